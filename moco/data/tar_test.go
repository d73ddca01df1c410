package data

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// webdatasetShards is a WebDataset set of two archives: images with and
// without directories in their keys, upper-case extensions, a label
// before its image, members that belong to no sample, and a key that
// recurs in the second archive.
func webdatasetShards(t testing.TB) [][]tarFile {
	return [][]tarFile{{
		{"__info__", []byte("WebDataset metadata, not a sample")},
		{"__index.v1__", []byte("metadata with a dot in its name")},
		{"n01_001.jpg", encodeJPEG(t, testRGBA(8, 6, 1))},
		{"n01_001.cls", []byte("3")},
		{"README", []byte("no dot: no sample")},
		{"dir/k2.PNG", encodePNG(t, testRGBA(5, 4, 2))},
		{"dir/k2.cls", []byte(" 0\n")},
		{"dir/._k2.PNG", []byte("apple double")},
		{"k3.cls", []byte("1")},
		{"k3.jpeg", encodeJPEG(t, testRGBA(6, 6, 3))},
	}, {
		{"n01_001.png", encodePNG(t, testRGBA(7, 7, 4))},
		{"n01_001.cls", []byte("2")},
		{"k5.json", []byte(`{"label": 1}`)},
		{"k5.jpg", encodeJPEG(t, testRGBA(4, 9, 5))},
		{"k5.png", encodePNG(t, testRGBA(9, 4, 5))}, // the jpg comes first
		{"k5.cls", []byte("1")},
	}}
}

func writeShards(t *testing.T, dir string, shards [][]tarFile, gz func(i int) bool) []string {
	var paths []string
	for i, files := range shards {
		p := filepath.Join(dir, fmt.Sprintf("shard-%02d.tar", i))
		if gz(i) {
			p += ".gz"
		}
		writeFile(t, p, makeTar(t, files, gz(i)))
		paths = append(paths, p)
	}
	return paths
}

func TestTarWebDataset(t *testing.T) {
	for _, gz := range []func(int) bool{
		func(int) bool { return false },
		func(int) bool { return true },
		func(i int) bool { return i == 1 },
	} {
		dir := t.TempDir()
		paths := writeShards(t, dir, webdatasetShards(t), gz)
		d, err := NewTar(paths, TarOptions{})
		require.NoError(t, err)
		require.Equal(t, "webdataset", d.Layout())
		require.Equal(t, 2, d.Archives())
		require.Equal(t, []string{"0", "1", "2", "3"}, d.Classes())
		want := []struct {
			name    string
			label   int
			w, h    int
			archive int
		}{
			{"n01_001.jpg", 3, 8, 6, 0},
			{"dir/k2.PNG", 0, 5, 4, 0},
			{"k3.jpeg", 1, 6, 6, 0},
			{"n01_001.png", 2, 7, 7, 1},
			{"k5.jpg", 1, 4, 9, 1},
		}
		require.Equal(t, len(want), d.Len())
		for i, w := range want {
			require.Equal(t, paths[w.archive]+":"+w.name, d.Name(i))
			require.Equal(t, w.label, d.Label(i))
			s, err := d.Item(i)
			require.NoError(t, err)
			require.Equal(t, w.label, s.Label)
			require.Equal(t, d.Name(i), s.Name)
			require.Equal(t, [3]int{w.w, w.h, 3}, [3]int{s.Image.W, s.Image.H, s.Image.C})
		}
		require.NoError(t, d.Close())
		_, err = d.Item(0)
		if !gz(0) {
			require.ErrorContains(t, err, "archive closed")
		}
	}
}

// TestTarWebDatasetRefused: a WebDataset set that breaks the format is
// refused at once, naming the archive and the sample.
func TestTarWebDatasetRefused(t *testing.T) {
	img := encodeJPEG(t, testRGBA(4, 4, 1))
	good := []tarFile{{"a.jpg", img}, {"a.cls", []byte("0")}}
	for _, c := range []struct {
		files []tarFile
		want  string
	}{
		{append(good, tarFile{"b.jpg", img}), "sample b has no .cls label (members: .jpg)"},
		{append(good, tarFile{"b.json", nil}, tarFile{"b.cls", []byte("1")}), "sample b has no image (.jpg/.jpeg/.png/.webp/.bmp; members: .json .cls)"},
		{append(good, tarFile{"b.seg.png", img}, tarFile{"b.cls", []byte("1")}), "sample b has no image (.jpg/.jpeg/.png/.webp/.bmp; members: .seg.png .cls)"},
		{append(good, tarFile{"b.jpg", img}, tarFile{"b.JPG", img}, tarFile{"b.cls", []byte("1")}), "sample b has two .jpg members"},
		{append(good, tarFile{"b.jpg", img}, tarFile{"b.cls", []byte("1")}, tarFile{"a.png", img}), "sample a appears twice"},
		{append(good, tarFile{"b.jpg", img}, tarFile{"b.cls", []byte("cat")}), `b.cls: class index "cat"`},
		{append(good, tarFile{"b.jpg", img}, tarFile{"b.cls", []byte("-1")}), `b.cls: class index "-1"`},
		{append(good, tarFile{"b.jpg", img}, tarFile{"b.cls", []byte("1048576")}), `b.cls: class index "1048576"`},
		{append(good, tarFile{"b.jpg", img}, tarFile{"b.cls", []byte(strings.Repeat(" ", 70) + "1")}), "b.cls: 71 bytes is not a class index"},
		{[]tarFile{{"README", nil}, {"a.cls", []byte("0")}}, "no .jpg/.jpeg/.png/.webp/.bmp entries"},
	} {
		for _, gz := range []bool{false, true} {
			_, err := NewTarBytes("w.tar", makeTar(t, c.files, gz), TarOptions{})
			require.ErrorContains(t, err, "w.tar", "gz=%v", gz)
			require.ErrorContains(t, err, c.want, "gz=%v", gz)
		}
	}
	_, err := NewTarBytes("w.tar", makeTar(t, good, false), TarOptions{Root: "x"})
	require.ErrorContains(t, err, "applies to the ImageFolder layout")

	// An empty shard (a download cut short) is named as such.
	dir0 := t.TempDir()
	empty := writeShards(t, dir0, [][]tarFile{good, nil}, func(int) bool { return false })
	_, err = NewTar(empty, TarOptions{})
	require.ErrorContains(t, err, empty[1]+": no .jpg/.jpeg/.png/.webp/.bmp entries")
	writeFile(t, empty[1], nil)
	_, err = NewTar(empty, TarOptions{})
	require.ErrorContains(t, err, empty[1]+": no .jpg/.jpeg/.png/.webp/.bmp entries")

	// One set takes one layout.
	dir := t.TempDir()
	paths := writeShards(t, dir, [][]tarFile{tarFixture(t), good}, func(int) bool { return false })
	_, err = NewTar(paths, TarOptions{})
	require.ErrorContains(t, err, paths[1]+" holds WebDataset labels (.cls members) and "+paths[0]+" none")

	// A corrupt image is found when it is read, and named.
	d, err := NewTarBytes("w.tar", makeTar(t, append(good, tarFile{"b.jpg", []byte("\xff\xd8\xffnot a jpeg")}, tarFile{"b.cls", []byte("1")}), false), TarOptions{})
	require.NoError(t, err)
	_, err = d.Item(1)
	require.ErrorContains(t, err, "w.tar:b.jpg")

	_, err = NewTar(nil, TarOptions{})
	require.Error(t, err)
}

// TestTarShardsImageFolder: the ImageFolder layout split over archives
// reads as the one archive it came from, in the same order.
func TestTarShardsImageFolder(t *testing.T) {
	files := tarFixture(t)
	whole, err := NewTarBytes("whole.tar", makeTar(t, files, false), TarOptions{})
	require.NoError(t, err)
	dir := t.TempDir()
	// Shards of 2, 1 and 3 members, the second gzip-compressed.
	paths := writeShards(t, dir, [][]tarFile{files[:2], files[2:3], files[3:]}, func(i int) bool { return i == 1 })
	d, err := NewTar(paths, TarOptions{})
	require.NoError(t, err)
	defer d.Close()
	require.Equal(t, "imagefolder", d.Layout())
	require.Equal(t, whole.Classes(), d.Classes())
	require.Equal(t, whole.Root(), d.Root())
	require.Equal(t, whole.Len(), d.Len())
	for i := 0; i < d.Len(); i++ {
		_, member, _ := strings.Cut(d.Name(i), ".tar:")
		if strings.Contains(d.Name(i), ".tar.gz:") {
			_, member, _ = strings.Cut(d.Name(i), ".tar.gz:")
		}
		require.Equal(t, strings.TrimPrefix(whole.Name(i), "whole.tar:"), member)
		require.Equal(t, whole.Label(i), d.Label(i))
		a, err := whole.Bytes(i)
		require.NoError(t, err)
		b, err := d.Bytes(i)
		require.NoError(t, err)
		require.Equal(t, a, b)
	}

	// A shard cut short is refused, by name.
	b := makeTar(t, files[3:], false)
	writeFile(t, paths[2], b[:len(b)-1500])
	_, err = NewTar(paths, TarOptions{})
	require.ErrorContains(t, err, paths[2])
}

func TestOpenArchives(t *testing.T) {
	dir := t.TempDir()
	paths := writeShards(t, dir, webdatasetShards(t), func(int) bool { return false })
	for _, p := range []string{
		dir, // a folder of archives
		filepath.Join(dir, "shard-{00..01}.tar"),
		filepath.Join(dir, "shard-*.tar"),
	} {
		d, err := Open(p, "train")
		require.NoError(t, err, p)
		require.Equal(t, 5, d.Len(), p)
		require.Equal(t, paths[1]+":k5.jpg", d.(Namer).Name(4))
		require.NoError(t, d.(*Tar).Close())
		_, err = Open(p, "test")
		require.ErrorIs(t, err, ErrNoTestSplit, p)
	}
	// One WebDataset shard.
	d, err := Open(paths[0], "train")
	require.NoError(t, err)
	require.Equal(t, 3, d.Len())
	require.NoError(t, d.(*Tar).Close())

	_, err = Open(filepath.Join(dir, "shard-{00..02}.tar"), "train")
	require.ErrorContains(t, err, "shard-02.tar")
	writeFile(t, filepath.Join(dir, "notes.txt"), nil)
	_, err = Open(filepath.Join(dir, "*"), "train")
	require.ErrorContains(t, err, "notes.txt")
	require.ErrorContains(t, err, "is not a .tar")

	// Hidden entries (a download tool's cache) are no class folders.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, ".cache", "huggingface"), 0o755))
	d, err = Open(dir, "train")
	require.NoError(t, err)
	require.Equal(t, 5, d.Len())
	require.NoError(t, d.(*Tar).Close())
	// The shards of two sets side by side: name one.
	writeFile(t, filepath.Join(dir, "val-00.tar"), makeTar(t, webdatasetShards(t)[1], false))
	_, err = Open(dir, "train")
	require.ErrorContains(t, err, "holds archives of 2 names that differ in more than their numbers, as the shards of different sets do: shard-#.tar (2), val-#.tar (1); name the set with a quoted pattern, as in --data '"+filepath.Join(dir, "shard-*.tar")+"' (or '"+filepath.Join(dir, "*.tar")+"' for them all)")
	require.NoError(t, os.Remove(filepath.Join(dir, "val-00.tar")))

	// A folder with a sub-folder is an ImageFolder, archives or not.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "cls"), 0o755))
	writeFile(t, filepath.Join(dir, "cls", "x.png"), encodePNG(t, testRGBA(3, 3, 1)))
	d, err = Open(dir, "train")
	require.NoError(t, err)
	require.IsType(t, &ImageFolder{}, d)
}

// TestTarUnlabelled: images with no class folders (WebDataset samples
// without labels among them) are an unlabelled set, sorted by name; a
// file beside an image in a class folder takes no label away.
func TestTarUnlabelled(t *testing.T) {
	img := encodeJPEG(t, testRGBA(4, 4, 1))
	for _, c := range []struct {
		files []tarFile
		names []string
	}{
		// WebDataset samples as img2dataset writes them (image, caption, metadata).
		{[]tarFile{{"b.png", encodePNG(t, testRGBA(2, 2, 1))}, {"b.txt", nil}, {"a.jpg", img}, {"a.txt", nil}, {"a.json", nil}}, []string{"a.jpg", "b.png"}},
		// Images alone, dotted names among them.
		{[]tarFile{{"z.jpg", img}, {"y.1.jpg", img}, {"y.2.jpg", img}, {"notes.txt", nil}}, []string{"y.1.jpg", "y.2.jpg", "z.jpg"}},
	} {
		d, err := NewTarBytes("u.tar", makeTar(t, c.files, false), TarOptions{})
		require.NoError(t, err)
		require.Equal(t, "imagefolder", d.Layout())
		require.Empty(t, d.Classes())
		require.Equal(t, len(c.names), d.Len())
		for i, n := range c.names {
			require.Equal(t, "u.tar:"+n, d.Name(i))
			s, err := d.Item(i)
			require.NoError(t, err)
			require.Equal(t, Unlabelled, s.Label)
		}
	}
	// Class folders keep their labels, whatever lies beside the images.
	d, err := NewTarBytes("l.tar", makeTar(t, []tarFile{{"cat/1.jpg", img}, {"cat/1.txt", nil}, {"cat/a.1.jpg", img}, {"dog/2.jpg", img}, {"dog/2.json", nil}}, false), TarOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"cat", "dog"}, d.Classes())
	require.Equal(t, 3, d.Len())
	require.Equal(t, 1, d.Label(2))
	// Labelled and unlabelled WebDataset samples in one set are refused.
	_, err = NewTarBytes("u.tar", makeTar(t, []tarFile{{"a.jpg", img}, {"a.cls", []byte("0")}, {"b.jpg", img}, {"b.txt", nil}}, false), TarOptions{})
	require.ErrorContains(t, err, "sample b has no .cls label")
}

// TestTarMemoryBound: a gzip-compressed set whose images would pass
// MaxArchiveMemory is refused with what to do, though each archive alone
// is within it (the bound is the set's); plain archives, read at offsets,
// are not held to it.
func TestTarMemoryBound(t *testing.T) {
	if halfMemory() == 0 {
		t.Log("no /proc/meminfo or cgroup limit here: MaxArchiveMemory defaults to no bound")
	}
	old := MaxArchiveMemory
	defer func() { MaxArchiveMemory = old }()
	files := tarFixture(t)
	shards := [][]tarFile{files[:2], files[2:]}
	var total, largest int64
	for _, sh := range shards {
		var n int64
		for _, f := range sh {
			if IsImageFile(f.name) && !strings.Contains(f.name, "/._") {
				n += int64(len(f.data))
			}
		}
		total, largest = total+n, max(largest, n)
	}
	require.Less(t, largest, total-1)
	MaxArchiveMemory = total - 1
	gz := writeShards(t, t.TempDir(), shards, func(int) bool { return true })
	_, err := NewTar(gz, TarOptions{})
	require.ErrorContains(t, err, "gzip-compressed archives are held in memory")
	require.ErrorContains(t, err, "decompress them")
	for _, p := range gz {
		_, err := NewTar([]string{p}, TarOptions{})
		require.NoError(t, err, "each archive alone is within the bound")
	}
	plain := writeShards(t, t.TempDir(), shards, func(int) bool { return false })
	d, err := NewTar(plain, TarOptions{})
	require.NoError(t, err)
	require.Equal(t, 4, d.Len())
	require.NoError(t, d.Close())
	MaxArchiveMemory = total
	d, err = NewTar(gz, TarOptions{})
	require.NoError(t, err)
	require.Equal(t, 4, d.Len())
}

// TestTarEndOfArchive: a plain archive cut short between two entries (a
// download or a shard writer stopped early) is refused, naming the file,
// where it ends and the last entry it holds, rather than read as a
// smaller set; the endings tar writers produce are read.
func TestTarEndOfArchive(t *testing.T) {
	files := tarFixture(t)
	whole := makeTar(t, files, false) // archive/tar: two zero blocks, no record padding
	require.Zero(t, len(whole)%tarBlock)
	// The archive of the first k files is, but for its two end blocks, a
	// prefix of the whole one: cut there, the last class goes missing.
	k := len(files) - 1
	boundary := len(makeTar(t, files[:k], false)) - 2*tarBlock
	require.Equal(t, makeTar(t, files[:k], false)[:boundary], whole[:boundary])
	end := len(whole) - 2*tarBlock
	for _, c := range []struct {
		n         int
		lastEntry string
	}{
		{boundary, files[k-1].name},
		{end, files[k].name},
	} {
		_, err := NewTarBytes("cut.tar", whole[:c.n], TarOptions{})
		require.ErrorContains(t, err, fmt.Sprintf("cut.tar (%d bytes): truncated? the archive ends at byte %d, after entry %s, without tar's end-of-archive blocks", c.n, c.n, c.lastEntry))
		p := filepath.Join(t.TempDir(), "cut.tar")
		writeFile(t, p, whole[:c.n])
		_, err = NewTar([]string{p}, TarOptions{})
		require.ErrorContains(t, err, p+fmt.Sprintf(" (%d bytes): truncated?", c.n))
	}

	// Read: two zero blocks (archive/tar), padded to 10240-byte records
	// (GNU tar, Python's tarfile), and one zero block then the end of the
	// file, which GNU tar reads too ("a lone zero block").
	padded := append(append([]byte(nil), whole...), make([]byte, 10240-len(whole)%10240)...)
	for _, b := range [][]byte{whole, padded, whole[:end+tarBlock]} {
		d, err := NewTarBytes("ok.tar", b, TarOptions{})
		require.NoError(t, err, "%d bytes", len(b))
		checkTarFixture(t, d)
		p := filepath.Join(t.TempDir(), "ok.tar")
		writeFile(t, p, b)
		d, err = NewTar([]string{p}, TarOptions{})
		require.NoError(t, err, "%d bytes", len(b))
		checkTarFixture(t, d)
		require.NoError(t, d.Close())
	}

	// An archive whose last entry is a folder or a link (no data), cut
	// after it.
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	require.NoError(t, w.WriteHeader(&tar.Header{Name: "cat/1.png", Mode: 0o644, Size: int64(len(files[1].data)), Typeflag: tar.TypeReg}))
	_, err := w.Write(files[1].data)
	require.NoError(t, err)
	require.NoError(t, w.WriteHeader(&tar.Header{Name: "cat/2.png", Linkname: "cat/1.png", Typeflag: tar.TypeSymlink}))
	require.NoError(t, w.Close())
	b := buf.Bytes()
	_, err = NewTarBytes("link.tar", b, TarOptions{})
	require.NoError(t, err)
	_, err = NewTarBytes("link.tar", b[:len(b)-2*tarBlock], TarOptions{})
	require.ErrorContains(t, err, "after entry cat/2.png, without tar's end-of-archive blocks")

	// GNU tar's own archive, where it is installed.
	gnu, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("no tar command here")
	}
	dir := t.TempDir()
	for _, f := range files {
		writeFile(t, filepath.Join(dir, "src", f.name), f.data)
	}
	p := filepath.Join(dir, "gnu.tar")
	out, err := exec.Command(gnu, "-cf", p, "-C", filepath.Join(dir, "src"), "data").CombinedOutput()
	require.NoError(t, err, "%s", out)
	d, err := NewTar([]string{p}, TarOptions{})
	require.NoError(t, err)
	checkTarFixture(t, d)
	require.NoError(t, d.Close())
}
