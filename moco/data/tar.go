package data

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// TarFolder reads the ImageFolder layout from inside a tar archive,
// optionally gzip-compressed: <root>/<class>/…/file. The archive is read
// once as a stream to index it. For a gzipped archive the entries' bytes
// (already-compressed JPEG/PNG data) are kept in one in-memory arena; for
// a plain tar file only offsets are kept and items are read with ReadAt.
// Nothing is unpacked to disk.
type TarFolder struct {
	name    string
	root    string
	classes []string
	names   []string
	labels  []int32
	offs    []int64 // entry data offset, in arena or in the file
	sizes   []int64
	arena   []byte   // gzip or in-memory: entry data
	file    *os.File // plain tar on disk: read with ReadAt
}

// TarOptions configure NewTarFolder.
type TarOptions struct {
	// Root is the directory inside the archive that holds the class
	// directories, e.g. "cifar10/train". Empty: the longest common
	// directory of the grandparents of all image entries, which is the
	// right answer for the usual root/<class>/<file> layout.
	Root string
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type tarEntry struct {
	name      string
	off, size int64
}

// NewTarFolder indexes the archive at path p.
func NewTarFolder(p string, opt TarOptions) (*TarFolder, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("data: tar: %w", err)
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(2)
	gz := len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
	var t *TarFolder
	if gz {
		t, err = indexTar(p, br, true, opt)
		f.Close()
	} else {
		// Plain tar: count offsets from the file start; the bufio reader
		// is not used so that counted bytes equal file offsets.
		if _, err = f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("data: tar %s: %w", p, err)
		}
		t, err = indexTar(p, f, false, opt)
		if err != nil {
			f.Close()
			return nil, err
		}
		st, serr := f.Stat()
		if serr != nil {
			f.Close()
			return nil, fmt.Errorf("data: tar %s: %w", p, serr)
		}
		for i := range t.offs {
			if t.offs[i]+t.sizes[i] > st.Size() {
				f.Close()
				return nil, fmt.Errorf("data: tar %s: entry %s extends past the end of the file", p, t.names[i])
			}
		}
		t.file = f
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// NewTarFolderBytes indexes an archive (tar or tar.gz) held in memory.
// name is used in error messages only.
func NewTarFolderBytes(name string, b []byte, opt TarOptions) (*TarFolder, error) {
	gz := len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b
	if gz {
		return indexTar(name, bytes.NewReader(b), true, opt)
	}
	t, err := indexTar(name, bytes.NewReader(b), false, opt)
	if err != nil {
		return nil, err
	}
	for i := range t.offs {
		if t.offs[i]+t.sizes[i] > int64(len(b)) {
			return nil, fmt.Errorf("data: tar %s: entry %s extends past the end of the data", name, t.names[i])
		}
	}
	t.arena = b
	return t, nil
}

func indexTar(name string, r io.Reader, gz bool, opt TarOptions) (*TarFolder, error) {
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("data: tar %s: gzip: %w", name, err)
		}
		defer zr.Close()
		r = zr
	}
	cr := &countingReader{r: r}
	tr := tar.NewReader(cr)
	var ents []tarEntry
	var arena bytes.Buffer
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("data: tar %s: after %d entries: %w", name, len(ents), err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		n := strings.TrimPrefix(path.Clean(strings.TrimPrefix(h.Name, "./")), "/")
		if !IsImageFile(n) || strings.HasPrefix(path.Base(n), "._") {
			continue
		}
		if h.Size < 0 || h.Size > MaxFileSize {
			return nil, fmt.Errorf("data: tar %s: entry %s: size %d outside [0, MaxFileSize=%d]", name, h.Name, h.Size, MaxFileSize)
		}
		e := tarEntry{name: n, off: cr.n, size: h.Size}
		if gz {
			e.off = int64(arena.Len())
			m, err := io.Copy(&arena, tr)
			if err != nil {
				return nil, fmt.Errorf("data: tar %s: entry %s: %w", name, h.Name, err)
			}
			if m != h.Size {
				return nil, fmt.Errorf("data: tar %s: entry %s: read %d of %d bytes", name, h.Name, m, h.Size)
			}
		}
		ents = append(ents, e)
	}
	if gz {
		// Read the gzip stream to its end so that its CRC is checked.
		if _, err := io.Copy(io.Discard, r); err != nil {
			return nil, fmt.Errorf("data: tar %s: gzip trailer: %w", name, err)
		}
	}
	if len(ents) == 0 {
		return nil, fmt.Errorf("data: tar %s: no .jpg/.jpeg/.png entries", name)
	}
	root := opt.Root
	if root == "" {
		root = commonRoot(ents)
	}
	root = strings.Trim(path.Clean(root), "/")
	if root == "." {
		root = ""
	}
	t := &TarFolder{name: name, root: root}
	type keyed struct {
		class, dir, base string
		e                tarEntry
	}
	var ks []keyed
	for _, e := range ents {
		rel := e.name
		if root != "" {
			if !strings.HasPrefix(rel, root+"/") {
				continue
			}
			rel = rel[len(root)+1:]
		}
		i := strings.IndexByte(rel, '/')
		if i <= 0 {
			continue // a file directly in root: no class
		}
		ks = append(ks, keyed{class: rel[:i], dir: path.Dir(rel), base: path.Base(rel), e: e})
	}
	if len(ks) == 0 {
		return nil, fmt.Errorf("data: tar %s: no image entries in class directories under %q", name, root)
	}
	sort.Slice(ks, func(a, b int) bool {
		if ks[a].class != ks[b].class {
			return ks[a].class < ks[b].class
		}
		if ks[a].dir != ks[b].dir {
			return ks[a].dir < ks[b].dir
		}
		return ks[a].base < ks[b].base
	})
	for i, k := range ks {
		if i == 0 || k.class != ks[i-1].class {
			t.classes = append(t.classes, k.class)
		}
		t.names = append(t.names, k.e.name)
		t.labels = append(t.labels, int32(len(t.classes)-1))
		t.offs = append(t.offs, k.e.off)
		t.sizes = append(t.sizes, k.e.size)
	}
	if gz {
		t.arena = arena.Bytes()
	}
	return t, nil
}

// commonRoot is the longest common directory prefix of the entries'
// grandparent directories.
func commonRoot(ents []tarEntry) string {
	var common []string
	for i, e := range ents {
		gp := path.Dir(path.Dir(e.name))
		var parts []string
		if gp != "." && gp != "/" {
			parts = strings.Split(gp, "/")
		}
		if i == 0 {
			common = parts
			continue
		}
		k := 0
		for k < len(common) && k < len(parts) && common[k] == parts[k] {
			k++
		}
		common = common[:k]
	}
	return strings.Join(common, "/")
}

func (t *TarFolder) Len() int          { return len(t.names) }
func (t *TarFolder) Classes() []string { return t.classes }
func (t *TarFolder) Label(i int) int   { return int(t.labels[i]) }

// Name is "archive:entry".
func (t *TarFolder) Name(i int) string { return t.name + ":" + t.names[i] }

// Root is the directory inside the archive holding the class directories.
func (t *TarFolder) Root() string { return t.root }

// Bytes returns the raw (encoded) bytes of entry i.
func (t *TarFolder) Bytes(i int) ([]byte, error) {
	if i < 0 || i >= len(t.names) {
		return nil, fmt.Errorf("data: tar %s: index %d out of range [0,%d)", t.name, i, len(t.names))
	}
	if t.file == nil {
		return t.arena[t.offs[i] : t.offs[i]+t.sizes[i]], nil
	}
	b := make([]byte, t.sizes[i])
	if _, err := t.file.ReadAt(b, t.offs[i]); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return nil, fmt.Errorf("data: %s: archive closed", t.Name(i))
		}
		return nil, fmt.Errorf("data: %s: %w", t.Name(i), err)
	}
	return b, nil
}

// Item decodes entry i.
func (t *TarFolder) Item(i int) (Sample, error) {
	b, err := t.Bytes(i)
	if err != nil {
		return Sample{}, err
	}
	img, err := DecodeImage(t.Name(i), b)
	if err != nil {
		return Sample{}, err
	}
	return Sample{Image: img, Label: int(t.labels[i]), Name: t.Name(i)}, nil
}

// Close releases the archive file (plain tar on disk); it is a no-op for
// in-memory archives.
func (t *TarFolder) Close() error {
	if t.file != nil {
		return t.file.Close()
	}
	return nil
}
