package data

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/mocogo/mocogo/internal/regularfile"
)

// Tar reads labelled images from one or more tar archives (shards), each
// a plain tar file or gzip-compressed, in one of two layouts:
//
//   - WebDataset: a sample is a run of consecutive members sharing a key,
//     the member's path up to the first dot of its file name
//     ("train/n01440764_10026.jpg" and "train/n01440764_10026.cls" make
//     the sample "train/n01440764_10026"). Its image is its jpg, jpeg,
//     png, webp or bmp member (the first present, in that order;
//     extensions compare without case), its label the decimal class index
//     in its cls member.
//     The classes are named "0" … "N−1", N one more than the largest index
//     of the set. Members with no dot in their file name, and top-level
//     members named __…__ (WebDataset's own metadata), belong to no
//     sample.
//   - ImageFolder: root/<class>/…/file, as NewImageFolder reads a folder
//     tree. Root is TarOptions.Root, or else the longest common folder of
//     the images' grandparents; the class names, sorted, give the labels.
//
// A set whose archives hold cls members is WebDataset, and then every
// sample of every archive must have an image and a label; a set with none
// is ImageFolder. Where root holds images but no class folders (WebDataset
// shards without labels: images and captions, as img2dataset writes
// them), its images are an unlabelled set: no classes, every label
// Unlabelled, sorted by name. WebDataset samples keep the order of the archives
// and their order within each archive; ImageFolder items are sorted by
// class, folder and file name (torchvision's order over the unpacked
// tree), whichever archive holds them.
//
// Each archive is read once, as a stream, to index it; nothing is
// unpacked to disk. A plain tar file stays open, its headers are read
// and its images skipped (seeking), and images are read with ReadAt
// when asked for, so a plain archive may be of any size. A gzip stream
// cannot be read at an offset, so a compressed archive's images are
// kept in memory: their JPEG and PNG data is already compressed and
// gzip gains little on it, so large sets belong in plain tar files.
// An archive cut short is refused, not read as a smaller set: a plain
// one must end with tar's end-of-archive blocks (checkEnd), a gzip
// stream with its trailer.
type Tar struct {
	archives []tarArchive
	layout   string // "webdataset" or "imagefolder"
	root     string
	classes  []string
	items    []tarItem
}

// tarArchive is one indexed archive.
type tarArchive struct {
	name string   // its path, or the name given to NewTarBytes
	file *os.File // a plain tar file on disk, read with ReadAt; nil for one in memory
}

// tarItem is one image of the set.
type tarItem struct {
	archive   int32
	label     int32
	name      string // the image member's path in its archive
	off, size int64  // its bytes' place in the archive's file
	data      []byte // or the bytes themselves, for an archive in memory
}

// TarOptions configure NewTar and NewTarBytes.
type TarOptions struct {
	// Root is the folder inside the archives that holds the class folders
	// of the ImageFolder layout, e.g. "cifar10/train". Empty: the longest
	// common folder of the images' grandparents, which is right for the
	// usual root/<class>/<file>. A WebDataset set must leave it empty.
	Root string
}

// MaxClasses bounds the class index a WebDataset cls member may hold, so
// that a corrupt label cannot make the class list take gigabytes.
var MaxClasses = 1 << 20

// MaxArchiveMemory bounds the image bytes that the gzip-compressed
// archives of one set may keep in memory: a set past it is refused with a
// message to decompress it, rather than left to exhaust the machine.
// Zero is no bound; the default is half the memory this process may use
// where that is known (Linux: the machine's, or its cgroup's limit when
// lower, as in a container), else zero.
var MaxArchiveMemory = halfMemory()

// halfMemory is half of the smaller of /proc/meminfo's MemTotal and the
// cgroup's memory limit (v2 memory.max, v1 memory.limit_in_bytes), or 0
// when neither is known.
func halfMemory() int64 {
	var limit int64
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil && kb > 0 {
					limit = kb << 10
				}
			}
		}
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// "max" (v2) or a huge number (v1) when unlimited.
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 && (limit == 0 || v < limit) {
			limit = v
		}
	}
	return limit / 2
}

// memoryBudget counts down what MaxArchiveMemory leaves to one set's
// gzip-compressed archives, which are scanned side by side.
type memoryBudget struct {
	limit int64
	left  atomic.Int64
}

func newMemoryBudget() *memoryBudget {
	b := &memoryBudget{limit: MaxArchiveMemory}
	b.left.Store(b.limit)
	return b
}

// take reports whether n more bytes fit.
func (b *memoryBudget) take(n int64) bool {
	return b.limit <= 0 || b.left.Add(-n) >= 0
}

// maxLabelBytes bounds a cls member: a class index and some white space.
const maxLabelBytes = 64

// NewTar indexes the archives at paths, in that order, as one set (see
// Tar). Up to eight archives are read at once. A file named twice (after
// filepath.Clean), or under two names (a link), is an error: its images
// would be read twice.
func NewTar(paths []string, opt TarOptions) (*Tar, error) {
	if len(paths) == 0 {
		return nil, errors.New("data: tar: no archives given")
	}
	if a, b, ok := repeated(paths); ok {
		also := ""
		if paths[b] != paths[a] {
			also = ", also as " + paths[b]
		}
		return nil, fmt.Errorf("data: tar: %s is given twice (archives %d and %d of %d%s): its images would be read twice", paths[a], a+1, b+1, len(paths), also)
	}
	scans := make([]tarScan, len(paths))
	errs := make([]error, len(paths))
	budget := newMemoryBudget()
	var wg sync.WaitGroup
	slots := make(chan struct{}, min(8, len(paths)))
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			scans[i], errs[i] = scanTarFile(p, budget)
		}()
	}
	wg.Wait()
	var scanErr error
	for _, err := range errs {
		if err != nil {
			scanErr = err // the first archive's failure, in the order given
			break
		}
	}
	if scanErr == nil {
		scanErr = sameFiles(scans)
	}
	t, err := buildTar(scans, scanErr, opt)
	if err != nil {
		for _, s := range scans {
			if s.archive.file != nil {
				s.archive.file.Close()
			}
		}
		return nil, err
	}
	return t, nil
}

// sameFiles reports two archives of a set that are one file under two
// names (a link, or a path spelt two ways that cleaning does not make
// one): its images would be read twice.
func sameFiles(scans []tarScan) error {
	bySize := map[int64][]int{}
	for i, s := range scans {
		if s.info == nil {
			continue
		}
		size := s.info.Size()
		for _, j := range bySize[size] {
			if os.SameFile(scans[j].info, s.info) {
				return fmt.Errorf("data: tar: %s and %s are the same file (archives %d and %d of %d): its images would be read twice",
					scans[j].archive.name, s.archive.name, j+1, i+1, len(scans))
			}
		}
		bySize[size] = append(bySize[size], i)
	}
	return nil
}

// NewTarBytes indexes one archive (tar or tar.gz) held in memory; name
// stands for it in item names and errors.
func NewTarBytes(name string, b []byte, opt TarOptions) (*Tar, error) {
	gz := len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b
	s, err := scanTar(name, bytes.NewReader(b), gz, newMemoryBudget())
	if err == nil && !gz {
		if err = s.checkBounds(int64(len(b))); err == nil {
			for i := range s.members {
				if m := &s.members[i]; m.off >= 0 {
					m.data = b[m.off : m.off+m.size : m.off+m.size]
				}
			}
		}
	}
	return buildTar([]tarScan{s}, err, opt)
}

// tarScan is what the index pass learned of one archive.
type tarScan struct {
	archive tarArchive
	members []tarMember
	labels  bool        // some member is a WebDataset label (cls)
	info    fs.FileInfo // the archive's file; nil for one in memory
}

// tarMember is a regular file of an archive, in archive order.
type tarMember struct {
	name      string // cleaned path
	off, size int64  // an image's bytes (see tarItem); off −1 for other members
	data      []byte // an image's bytes, for an archive in memory
	label     int32  // a cls member's class index; else −1
}

// scanTarFile indexes the archive at p: a gzip stream is read whole, a
// plain tar file only through its headers, and stays open. p must be a
// regular file (see regularfile.Open), or a link to one.
func scanTarFile(p string, budget *memoryBudget) (tarScan, error) {
	f, st, err := regularfile.Open(p)
	if err != nil {
		if errors.Is(err, syscall.EMFILE) {
			err = fmt.Errorf("%w (every plain tar of a set stays open: raise the limit on open files, ulimit -n)", err)
		}
		return tarScan{}, fmt.Errorf("data: tar: %w", err)
	}
	magic, _ := bufio.NewReader(f).Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		defer f.Close()
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return tarScan{}, fmt.Errorf("data: tar %s: %w", p, err)
		}
		s, err := scanTar(p, bufio.NewReaderSize(f, 1<<20), true, budget)
		s.info = st
		return s, err
	}
	fail := func(err error) (tarScan, error) {
		f.Close()
		return tarScan{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("data: tar %s: %w", p, err))
	}
	s, err := scanTar(p, f, false, budget)
	if err != nil {
		return fail(err)
	}
	if err := s.checkBounds(st.Size()); err != nil {
		return fail(err)
	}
	s.archive.file = f
	s.info = st
	return s, nil
}

// checkBounds reports an image that a plain archive of size bytes cannot
// hold whole (a file cut short after its headers were written).
func (s *tarScan) checkBounds(size int64) error {
	for _, m := range s.members {
		if m.off >= 0 && m.off+m.size > size {
			return fmt.Errorf("data: tar %s: entry %s extends past the end of the archive", s.archive.name, m.name)
		}
	}
	return nil
}

// offsetReader counts the bytes read from r, and passes seeks on where r
// can seek, so that archive/tar skips members' data without reading it.
type offsetReader struct {
	r io.Reader
	n int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	o.n += int64(n)
	return n, err
}

// seekingReader is an offsetReader over a reader that can seek.
type seekingReader struct{ offsetReader }

func (s *seekingReader) Seek(off int64, whence int) (int64, error) {
	pos, err := s.r.(io.Seeker).Seek(off, whence)
	if err == nil {
		s.n = pos
	}
	return pos, err
}

// scanTar reads the archive in r (gzip-compressed when gz) once, in
// order: the regular members but AppleDouble files (._name) and
// WebDataset's top-level __…__ metadata. It keeps the images' offsets,
// with their bytes for a gzip stream (within budget), and parses
// WebDataset labels.
func scanTar(name string, r io.Reader, gz bool, budget *memoryBudget) (tarScan, error) {
	s := tarScan{archive: tarArchive{name: name}}
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return s, fmt.Errorf("data: tar %s: gzip: %w", name, err)
		}
		defer zr.Close()
		r = zr
	}
	// cnt counts the bytes before the current member's data: its offset
	// in a plain archive.
	cnt := &offsetReader{r: r}
	var counted io.Reader = cnt
	if _, ok := r.(io.Seeker); ok {
		sr := &seekingReader{offsetReader{r: r}}
		cnt, counted = &sr.offsetReader, sr
	}
	tr := tar.NewReader(counted)
	// The last entry, and where its data ends (see checkEnd).
	var last *tar.Header
	var end int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			if !gz {
				// A gzip stream cut short fails its trailer check below.
				if err := checkEnd(name, last, end, cnt.n); err != nil {
					return s, err
				}
			}
			break
		}
		if err != nil {
			return s, fmt.Errorf("data: tar %s: after %d entries: %w", name, len(s.members), err)
		}
		last, end = h, -1
		if !isSparse(h) {
			// Entries without data (folders, links) have none whatever
			// their size field says, as archive/tar reads them.
			size := h.Size
			switch h.Typeflag {
			case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
				size = 0
			}
			end = (cnt.n + size + tarBlock - 1) / tarBlock * tarBlock
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		n := strings.TrimPrefix(path.Clean(strings.TrimPrefix(h.Name, "./")), "/")
		base := path.Base(n)
		if strings.HasPrefix(base, "._") || !strings.Contains(n, "/") && strings.HasPrefix(n, "__") && strings.HasSuffix(n, "__") {
			continue
		}
		m := tarMember{name: n, off: -1, label: -1}
		switch _, ext, _ := webdatasetKey(n); {
		case IsImageFile(n):
			if h.Size < 0 || h.Size > MaxFileSize {
				return s, fmt.Errorf("data: tar %s: entry %s: size %d outside [0, MaxFileSize=%d]", name, h.Name, h.Size, MaxFileSize)
			}
			m.off, m.size = cnt.n, h.Size
			if gz {
				if !budget.take(h.Size) {
					return s, fmt.Errorf("data: tar %s: gzip-compressed archives are held in memory, and this set's images pass %.1f MiB (MaxArchiveMemory, by default half the memory this process may use): decompress them (gunzip leaves plain .tar files, read at offsets)",
						name, float64(budget.limit)/(1<<20))
				}
				// Each image in a slice of its own size: a growing arena
				// would hold up to twice what it counts.
				m.data = make([]byte, h.Size)
				if c, err := io.ReadFull(tr, m.data); err != nil {
					return s, fmt.Errorf("data: tar %s: entry %s: read %d of %d bytes: %w", name, h.Name, c, h.Size, err)
				}
			}
		case ext == "cls":
			l, err := readLabel(tr, h.Size)
			if err != nil {
				return s, fmt.Errorf("data: tar %s: %s: %w", name, h.Name, err)
			}
			m.label = l
			s.labels = true
		}
		s.members = append(s.members, m)
	}
	if gz {
		// Read the gzip stream to its end so that its CRC is checked.
		if _, err := io.Copy(io.Discard, r); err != nil {
			return s, fmt.Errorf("data: tar %s: gzip trailer: %w", name, err)
		}
	}
	return s, nil
}

// tarBlock is the size of a tar block: headers, and data padded to it.
const tarBlock = 512

// checkEnd reports a plain archive cut short between two entries, which
// archive/tar (like GNU tar and Python's tarfile) reads as a smaller
// archive with no word: a download or a shard writer stopped early loses
// whole images, whole classes even, silently. Every tar writer ends an
// archive with two 512-byte blocks of zeros (Go's archive/tar, Python's
// tarfile and GNU tar, which then pads to 10240-byte records), and
// archive/tar stops at them, or else at the end of the file: pos, where
// it stopped, is end (where the last entry's data ends, or −1 where that
// is not known: a sparse entry, whose size on disk archive/tar does not
// give) plus the zero blocks it read. One zero block then the end of the
// file is accepted: no entry can start with a zero block, so the writer
// did finish, and GNU tar takes it too (warning of "a lone zero block");
// none is refused. An archive with no entries at all (an empty file) is
// left to the caller, which reports that it holds no images.
func checkEnd(name string, last *tar.Header, end, pos int64) error {
	if last == nil || end < 0 || pos >= end+tarBlock {
		return nil
	}
	return fmt.Errorf("data: tar %s (%d bytes): truncated? the archive ends at byte %d, after entry %s, without tar's end-of-archive blocks (two 512-byte blocks of zeros)",
		name, pos, pos, last.Name)
}

// isSparse reports a sparse entry (GNU tar --sparse), old GNU format or
// PAX: its data on disk is shorter than h.Size.
func isSparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// readLabel parses a WebDataset class index: decimal, white space around
// it allowed, in [0, MaxClasses).
func readLabel(r io.Reader, size int64) (int32, error) {
	if size > maxLabelBytes {
		return 0, fmt.Errorf("%d bytes is not a class index", size)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || v < 0 || v >= MaxClasses {
		return 0, fmt.Errorf("class index %q: want an integer in [0, %d)", strings.TrimSpace(string(b)), MaxClasses)
	}
	return int32(v), nil
}

// webdatasetKey splits a member's path into its WebDataset sample key
// (the path up to the first dot of the file name) and its extension (the
// rest, lower case). ok is false for a file name that has no dot, or that
// starts with one.
func webdatasetKey(name string) (key, ext string, ok bool) {
	dir, file := path.Split(name)
	i := strings.IndexByte(file, '.')
	if i <= 0 {
		return "", "", false
	}
	return dir + file[:i], strings.ToLower(file[i+1:]), true
}

// buildTar makes the set from its archives' scans (scanErr: the first
// failure among them).
func buildTar(scans []tarScan, scanErr error, opt TarOptions) (*Tar, error) {
	if scanErr != nil {
		return nil, scanErr
	}
	t := &Tar{archives: make([]tarArchive, len(scans))}
	withLabels, without := -1, -1
	for i, s := range scans {
		if !slices.ContainsFunc(s.members, func(m tarMember) bool { return m.off >= 0 }) {
			// An empty archive (a download cut short, say) is named as such,
			// not as a layout of its own.
			return nil, fmt.Errorf("data: tar %s: no %s entries", s.archive.name, imageExtensionList)
		}
		t.archives[i] = s.archive
		if s.labels && withLabels < 0 {
			withLabels = i
		}
		if !s.labels && without < 0 {
			without = i
		}
	}
	switch {
	case withLabels >= 0 && without >= 0:
		return nil, fmt.Errorf("data: tar %s holds WebDataset labels (.cls members) and %s none: one set takes one layout",
			scans[withLabels].archive.name, scans[without].archive.name)
	case withLabels >= 0:
		if opt.Root != "" {
			return nil, fmt.Errorf("data: tar %s: a root folder (%q) applies to the ImageFolder layout, and this is a WebDataset (.cls labels)",
				scans[withLabels].archive.name, opt.Root)
		}
		t.layout = "webdataset"
		if err := t.addWebDataset(scans); err != nil {
			return nil, err
		}
	default:
		t.layout = "imagefolder"
		if err := t.addImageFolder(scans, opt.Root); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// addWebDataset groups each archive's members into samples (see Tar).
func (t *Tar) addWebDataset(scans []tarScan) error {
	maxLabel := int32(-1)
	for a, s := range scans {
		name := s.archive.name
		seen := map[string]bool{}
		// The members that belong to samples, with their keys and extensions.
		type part struct {
			key, ext string
			m        tarMember
		}
		var parts []part
		for _, m := range s.members {
			if key, ext, ok := webdatasetKey(m.name); ok {
				parts = append(parts, part{key, ext, m})
			}
		}
		for i := 0; i < len(parts); {
			j := i + 1
			for j < len(parts) && parts[j].key == parts[i].key {
				j++
			}
			key := parts[i].key
			if seen[key] {
				return fmt.Errorf("data: tar %s: sample %s appears twice: a sample's members must follow one another", name, key)
			}
			seen[key] = true
			byExt := map[string]tarMember{}
			var exts []string
			for _, p := range parts[i:j] {
				if _, dup := byExt[p.ext]; dup {
					return fmt.Errorf("data: tar %s: sample %s has two .%s members", name, key, p.ext)
				}
				byExt[p.ext] = p.m
				exts = append(exts, "."+p.ext)
			}
			img, found := tarMember{}, false
			for _, e := range imageExtensions {
				if m, ok := byExt[e[1:]]; ok {
					img, found = m, true
					break
				}
			}
			if !found {
				return fmt.Errorf("data: tar %s: sample %s has no image (%s; members: %s)", name, key, imageExtensionList, strings.Join(exts, " "))
			}
			lab, ok := byExt["cls"]
			if !ok {
				return fmt.Errorf("data: tar %s: sample %s has no .cls label (members: %s)", name, key, strings.Join(exts, " "))
			}
			maxLabel = max(maxLabel, lab.label)
			t.items = append(t.items, tarItem{archive: int32(a), label: lab.label, name: img.name, off: img.off, size: img.size, data: img.data})
			i = j
		}
	}
	if len(t.items) == 0 {
		return fmt.Errorf("data: tar %s: no samples", scans[0].archive.name)
	}
	t.classes = numberedClasses(int(maxLabel) + 1)
	return nil
}

// addImageFolder takes the images in class folders under the root (see
// Tar), sorted by class, folder and file name, then archive.
func (t *Tar) addImageFolder(scans []tarScan, root string) error {
	var names []string
	for _, s := range scans {
		for _, m := range s.members {
			if m.off >= 0 {
				names = append(names, m.name)
			}
		}
	}
	if root == "" {
		root = commonRoot(names)
	}
	root = strings.Trim(path.Clean(root), "/")
	if root == "." {
		root = ""
	}
	t.root = root
	type keyed struct {
		class, dir, base string
		item             tarItem
	}
	// ks: the images in class folders; flat: those directly in root.
	var ks, flat []keyed
	for a, s := range scans {
		for _, m := range s.members {
			if m.off < 0 {
				continue
			}
			rel := m.name
			if root != "" {
				var ok bool
				if rel, ok = strings.CutPrefix(rel, root+"/"); !ok {
					continue
				}
			}
			item := tarItem{archive: int32(a), name: m.name, off: m.off, size: m.size, data: m.data}
			switch i := strings.IndexByte(rel, '/'); {
			case i < 0:
				item.label = Unlabelled
				flat = append(flat, keyed{base: rel, item: item})
			case i > 0:
				ks = append(ks, keyed{class: rel[:i], dir: path.Dir(rel), base: path.Base(rel), item: item})
			}
		}
	}
	if len(ks) == 0 {
		// No class folders: the images directly in root, unlabelled.
		if len(flat) == 0 {
			return fmt.Errorf("data: tar %s: no image entries in class directories under %q, nor in it", setName(scans), root)
		}
		sort.SliceStable(flat, func(a, b int) bool { return flat[a].base < flat[b].base })
		for _, k := range flat {
			t.items = append(t.items, k.item)
		}
		return nil
	}
	sort.SliceStable(ks, func(a, b int) bool {
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
		k.item.label = int32(len(t.classes) - 1)
		t.items = append(t.items, k.item)
	}
	return nil
}

// setName names a set of archives in errors: its one archive, or the
// first and the count.
func setName(scans []tarScan) string {
	if len(scans) == 1 {
		return scans[0].archive.name
	}
	return fmt.Sprintf("%s (and %d more archives)", scans[0].archive.name, len(scans)-1)
}

// commonRoot is the longest common directory prefix of the names'
// grandparent directories.
func commonRoot(names []string) string {
	var common []string
	for i, n := range names {
		gp := path.Dir(path.Dir(n))
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

func (t *Tar) Len() int          { return len(t.items) }
func (t *Tar) Classes() []string { return t.classes }
func (t *Tar) Label(i int) int   { return int(t.items[i].label) }

// Name is "archive:member", the member being the item's image.
func (t *Tar) Name(i int) string {
	it := &t.items[i]
	return t.archives[it.archive].name + ":" + it.name
}

// Layout is "webdataset" or "imagefolder" (see Tar).
func (t *Tar) Layout() string { return t.layout }

// Root is the folder inside the archives holding the class folders of
// the ImageFolder layout ("" for a WebDataset set).
func (t *Tar) Root() string { return t.root }

// Archives is the number of archives in the set.
func (t *Tar) Archives() int { return len(t.archives) }

// Bytes returns the raw (encoded) bytes of item i's image.
func (t *Tar) Bytes(i int) ([]byte, error) {
	if i < 0 || i >= len(t.items) {
		return nil, fmt.Errorf("data: tar %s: index %d out of range [0,%d)", t.archives[0].name, i, len(t.items))
	}
	it := &t.items[i]
	a := &t.archives[it.archive]
	if a.file == nil {
		return it.data[:len(it.data):len(it.data)], nil
	}
	b := make([]byte, it.size)
	if _, err := a.file.ReadAt(b, it.off); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return nil, fmt.Errorf("data: %s: archive closed", t.Name(i))
		}
		return nil, fmt.Errorf("data: %s: %w", t.Name(i), err)
	}
	return b, nil
}

// Item decodes item i.
func (t *Tar) Item(i int) (Sample, error) {
	b, err := t.Bytes(i)
	if err != nil {
		return Sample{}, err
	}
	img, err := DecodeImage(t.Name(i), b)
	if err != nil {
		return Sample{}, err
	}
	return Sample{Image: img, Label: int(t.items[i].label), Name: t.Name(i)}, nil
}

// Close releases the plain tar files on disk; in-memory archives need
// nothing.
func (t *Tar) Close() error {
	var errs []error
	for i := range t.archives {
		if f := t.archives[i].file; f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}
