package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/mocogo/mocogo/internal/regularfile"
)

// ErrNoTestSplit is returned by Open for a test split of a format that
// has none (an ImageFolder or tar archive is one split), or of an MNIST
// or CIFAR folder without its test files. A test file that is there but
// cannot be read is another error.
var ErrNoTestSplit = errors.New("data: this dataset has no separate test split")

// FashionMNISTDir is where Debian's dataset-fashion-mnist package puts
// the gzipped IDX files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// Open recognises a dataset at path and opens it:
//   - tar archives, plain or gzip-compressed (.tar, .tar.gz, .tgz): one
//     file; a pattern naming several, such as "shards/train-{000..127}.tar"
//     (ExpandPattern: brace lists and ranges, globs); or a folder that
//     holds archives and no sub-folders. They are read as one set, in
//     WebDataset's layout or ImageFolder's (Tar);
//   - a folder with {train,t10k}-images-idx3-ubyte[.gz] and
//     -labels-idx1-ubyte[.gz] (MNIST family): the split named by split
//     ("train" or "test");
//   - a folder with data_batch_*.bin / test_batch.bin (CIFAR-10) or
//     train.bin / test.bin (CIFAR-100, fine labels);
//   - one IDX images file (its labels file beside it, named as MNIST
//     names it: train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz)
//     or one CIFAR batch file of those names: that file alone;
//   - any other folder: ImageFolder (one sub-folder per class; a folder
//     of images with no sub-folders is an unlabelled set).
//
// Archives, ImageFolders and single files are a single split: asking for
// "test" gives ErrNoTestSplit. So does an MNIST or CIFAR folder without
// its test files.
//
// Errors say what was looked for.
func Open(path, split string) (Dataset, error) {
	if split != "train" && split != "test" {
		return nil, fmt.Errorf("data: split %q: want train or test", split)
	}
	st, err := os.Stat(path)
	if err != nil && IsPattern(path) {
		paths, err := ExpandPattern(path)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			if !IsArchive(p) {
				return nil, fmt.Errorf("data: %s (from %s) is not a .tar, .tar.gz or .tgz archive", p, path)
			}
		}
		return openArchives(path, paths, split)
	}
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("data: %w", regularfile.NotRegular(path, st.Mode()))
		}
		if IsArchive(path) {
			return openArchives(path, []string{path}, split)
		}
		return openFile(path, split)
	}
	if d, ok, err := openMNISTFolder(path, split); ok {
		return d, err
	}
	if d, ok, err := openCIFARFolder(path, split); ok {
		return d, err
	}
	if archives, ok, err := archiveFolder(path); err != nil {
		return nil, err
	} else if ok {
		return openArchives(path, archives, split)
	}
	if split == "test" {
		return nil, fmt.Errorf("%w: %s", ErrNoTestSplit, path)
	}
	return NewImageFolder(path)
}

// openArchives opens paths, the archives that path (a file, a pattern or
// a folder) names, as one set: a single split.
func openArchives(path string, paths []string, split string) (Dataset, error) {
	if split == "test" {
		return nil, fmt.Errorf("%w: %s", ErrNoTestSplit, path)
	}
	return NewTar(paths, TarOptions{})
}

// IsArchive reports a name ending in .tar, .tar.gz or .tgz, any case.
func IsArchive(name string) bool { return archiveSuffix(name) != "" }

// archiveFolder lists, sorted, the archives in dir when it holds some and
// no sub-folders but hidden ones (a folder of shards, not an ImageFolder;
// a download tool's .cache is no class). The archives must be shards of
// one set: names that differ only in their numbers. A folder that also
// holds another set's shards (train and validation side by side) is an
// error that says to name one set by a pattern.
func archiveFolder(dir string) ([]string, bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, nil
	}
	var archives []string
	families := map[string]int{}
	var order []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return nil, false, nil
		}
		if IsArchive(e.Name()) {
			archives = append(archives, p)
			f := shardFamily(e.Name())
			if families[f]++; families[f] == 1 {
				order = append(order, f)
			}
		}
	}
	if len(order) > 1 {
		var sets []string
		for _, f := range order[:min(len(order), 3)] {
			sets = append(sets, fmt.Sprintf("%s (%d)", f, families[f]))
		}
		if len(order) > 3 {
			sets = append(sets, fmt.Sprintf("and %d more", len(order)-3))
		}
		all := ""
		if suf := archiveSuffix(archives[0]); !slices.ContainsFunc(archives, func(a string) bool { return archiveSuffix(a) != suf }) {
			all = fmt.Sprintf(" (or '%s' for them all)", filepath.Join(dir, "*"+suf))
		}
		return nil, false, fmt.Errorf("data: %s holds archives of %d names that differ in more than their numbers, as the shards of different sets do: %s; name the set with a quoted pattern, as in --data '%s'%s",
			dir, len(order), strings.Join(sets, ", "), filepath.Join(dir, strings.ReplaceAll(order[0], "#", "*")), all)
	}
	sort.Strings(archives)
	return archives, len(archives) > 0, nil
}

// archiveSuffix is name's archive suffix as written: .tar, .tar.gz or .tgz
// in any case.
func archiveSuffix(name string) string {
	low := strings.ToLower(name)
	for _, s := range []string{".tar.gz", ".tgz", ".tar"} {
		if strings.HasSuffix(low, s) {
			return name[len(name)-len(s):]
		}
	}
	return ""
}

// shardFamily is a shard's name with each run of digits written #:
// "train-0007.tar" and "train-0123.tar" are of the family "train-#.tar".
func shardFamily(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] >= '0' && name[i] <= '9' {
			if i == 0 || name[i-1] < '0' || name[i-1] > '9' {
				b.WriteByte('#')
			}
			continue
		}
		b.WriteByte(name[i])
	}
	return b.String()
}

// OpenFashionMNIST opens Debian's Fashion-MNIST, or says how to get it.
func OpenFashionMNIST(split string) (Dataset, error) {
	if _, err := os.Stat(FashionMNISTDir); err != nil {
		return nil, errors.New("data: Fashion-MNIST not found in " + FashionMNISTDir +
			": install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or pass --data with your own images")
	}
	return Open(FashionMNISTDir, split)
}

// openFile opens one file of a format that keeps each split in files of
// its own (see Open): an MNIST-family IDX images file, with the labels
// file beside it, or a CIFAR binary batch. The file is the set's one
// split, as an archive is: "test" gives ErrNoTestSplit.
func openFile(path, split string) (Dataset, error) {
	dir, base := filepath.Split(path)
	stem := strings.TrimSuffix(base, ".gz")
	var open func() (Dataset, error)
	switch {
	case strings.HasSuffix(stem, "idx3-ubyte"):
		labels, err := idxLabelsFile(path)
		if err != nil {
			return nil, err
		}
		open = func() (Dataset, error) { return NewIDX(path, labels, idxClasses(path)) }
	case strings.HasSuffix(stem, "idx1-ubyte"):
		images := "the images file"
		if name := idxPartner(base, "labels", "images", "idx1", "idx3"); name != "" {
			images += ", " + name + ","
		}
		return nil, fmt.Errorf("data: %s is an IDX labels file: give %s whose labels are found beside it, or the folder that holds both", path, images)
	case cifar10Batch(base):
		open = func() (Dataset, error) { return NewCIFAR10(path) }
	case base == "train.bin" || base == "test.bin":
		open = func() (Dataset, error) { return NewCIFAR100(true, path) }
	default:
		return nil, fmt.Errorf("data: %s is a file but not a .tar, .tar.gz or .tgz archive, an MNIST IDX images file (train-images-idx3-ubyte[.gz], t10k-…) or a CIFAR binary batch (data_batch_N.bin, test_batch.bin; CIFAR-100's train.bin, test.bin); a folder holding IDX files or batches is read too", path)
	}
	if split == "test" {
		return nil, fmt.Errorf("%w: %s is one file, one split (its folder, %s, gives each split its files)", ErrNoTestSplit, path, filepath.Clean(dir))
	}
	return open()
}

// cifar10Batch reports a CIFAR-10 batch file's name: data_batch_N.bin
// (N a number) or test_batch.bin.
func cifar10Batch(base string) bool {
	if base == "test_batch.bin" {
		return true
	}
	n, ok := strings.CutPrefix(base, "data_batch_")
	n, ok2 := strings.CutSuffix(n, ".bin")
	return ok && ok2 && n != "" && strings.Trim(n, "0123456789") == ""
}

// idxLabelsFile finds the labels file beside an IDX images file: its
// name with "images" made "labels" and "idx3" "idx1", as the MNIST family
// names them (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz;
// emnist-letters-train-images-idx3-ubyte; Kaggle's train-images.idx3-ubyte),
// gzip-compressed or not, the images file's way first.
func idxLabelsFile(images string) (string, error) {
	dir, base := filepath.Split(images)
	name := idxPartner(base, "images", "labels", "idx3", "idx1")
	if name == "" {
		return "", fmt.Errorf("data: %s is an IDX images file, and its labels file cannot be found by its name: name them as MNIST does (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz)", images)
	}
	var tried []string
	for _, n := range []string{name, strings.TrimSuffix(name, ".gz"), strings.TrimSuffix(name, ".gz") + ".gz"} {
		p := filepath.Join(dir, n)
		if slices.Contains(tried, p) {
			continue
		}
		if present(p) {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("data: %s is an IDX images file, and its labels file is not beside it (looked for %s)", images, strings.Join(tried, " and "))
}

// idxPartner is base with its last from1 made to1 and its last from2
// made to2, each pair of the same length ("" when base lacks either).
func idxPartner(base, from1, to1, from2, to2 string) string {
	i, j := strings.LastIndex(base, from1), strings.LastIndex(base, from2)
	if i < 0 || j < 0 || len(from1) != len(to1) || len(from2) != len(to2) {
		return ""
	}
	b := []byte(base)
	copy(b[i:], to1)
	copy(b[j:], to2)
	return string(b)
}

// idxClasses names an IDX set's classes: Fashion-MNIST's for a path that
// says so, else nil ("0" … "N−1").
func idxClasses(path string) []string {
	if strings.Contains(strings.ToLower(path), "fashion") {
		return FashionMNISTClasses
	}
	return nil
}

// openCIFARFolder opens split of the CIFAR folder dir: CIFAR-10's
// data_batch_*.bin and test_batch.bin, or CIFAR-100's train.bin and
// test.bin (fine labels). ok is false where dir holds none of them, or
// only a test.bin beside sub-folders (an ImageFolder's). A folder
// without the test batch has no test split (ErrNoTestSplit); one
// without the training batches says so.
func openCIFARFolder(dir, split string) (d Dataset, ok bool, err error) {
	train10, test10 := globSorted(dir, "data_batch_*.bin"), filepath.Join(dir, "test_batch.bin")
	if len(train10) > 0 || present(test10) {
		switch {
		case split == "train" && len(train10) == 0:
			return nil, true, fmt.Errorf("data: %s holds CIFAR-10's test_batch.bin but no training batches, data_batch_*.bin", dir)
		case split == "train":
			d, err := NewCIFAR10(train10...)
			return d, true, err
		case !present(test10):
			// As an MNIST folder without t10k files: callers may hold
			// training images out instead.
			return nil, true, fmt.Errorf("%w: %s holds CIFAR-10 training batches but no test_batch.bin", ErrNoTestSplit, dir)
		}
		d, err := NewCIFAR10(test10)
		return d, true, err
	}
	train100, test100 := filepath.Join(dir, "train.bin"), filepath.Join(dir, "test.bin")
	switch p := filepath.Join(dir, split+".bin"); {
	case present(p):
		d, err := NewCIFAR100(true, p)
		return d, true, err
	case split == "test" && present(train100):
		return nil, true, fmt.Errorf("%w: %s holds CIFAR-100's train.bin but no test.bin", ErrNoTestSplit, dir)
	case split == "train" && present(test100) && !hasSubfolder(dir):
		return nil, true, fmt.Errorf("data: %s holds CIFAR-100's test.bin but no train.bin", dir)
	}
	return nil, false, nil
}

// hasSubfolder reports whether dir holds a folder, or a link to one.
func hasSubfolder(dir string) bool {
	ents, _ := os.ReadDir(dir)
	return slices.ContainsFunc(ents, func(e os.DirEntry) bool {
		return e.IsDir() || e.Type()&os.ModeSymlink != 0 && isDir(filepath.Join(dir, e.Name()))
	})
}

// openMNISTFolder opens split of the MNIST-family folder dir: the
// {train,t10k}-images-idx3-ubyte and -labels-idx1-ubyte files, each
// gzip-compressed or not. ok is false where dir holds none of them. A
// folder with some but not those of split says which file is missing;
// one without t10k files has no test split (ErrNoTestSplit).
func openMNISTFolder(dir, split string) (d Dataset, ok bool, err error) {
	find := func(name string) string {
		for _, ext := range []string{".gz", ""} {
			if p := filepath.Join(dir, name+ext); present(p) {
				return p
			}
		}
		return ""
	}
	files := map[string]string{}
	for _, prefix := range []string{"train", "t10k"} {
		for _, kind := range []string{"-images-idx3-ubyte", "-labels-idx1-ubyte"} {
			if p := find(prefix + kind); p != "" {
				files[prefix+kind] = p
			}
		}
	}
	if len(files) == 0 {
		return nil, false, nil
	}
	prefix := map[string]string{"train": "train", "test": "t10k"}[split]
	img, lab := files[prefix+"-images-idx3-ubyte"], files[prefix+"-labels-idx1-ubyte"]
	switch {
	case img != "" && lab != "":
		d, err := NewIDX(img, lab, idxClasses(dir))
		return d, true, err
	case img != "":
		return nil, true, fmt.Errorf("data: %s holds %s but not its labels, %s-labels-idx1-ubyte[.gz]", dir, filepath.Base(img), prefix)
	case lab != "":
		return nil, true, fmt.Errorf("data: %s holds %s but not its images, %s-images-idx3-ubyte[.gz]", dir, filepath.Base(lab), prefix)
	case split == "test":
		return nil, true, fmt.Errorf("%w: %s holds MNIST's training files but no t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]", ErrNoTestSplit, dir)
	}
	return nil, true, fmt.Errorf("data: %s holds MNIST's test files (t10k-…) but no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]", dir)
}

func globSorted(dir, pattern string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	sort.Strings(m)
	return m
}

// present reports whether there is something at p, a link that leads
// nowhere included: a file of a split that is there but broken is for
// its reader to report, not to be taken for a split that is missing.
func present(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// OpenEval opens a set of evaluation images at path: its test split
// where the format has one (CIFAR, MNIST), else the whole set (an
// ImageFolder such as ImageNet's val folder, or tar archives).
func OpenEval(path string) (Dataset, error) {
	d, err := Open(path, "test")
	if errors.Is(err, ErrNoTestSplit) {
		return Open(path, "train")
	}
	return d, err
}

// SameClasses checks that evaluation labels mean what training labels
// mean: the evaluation classes must be the training classes, in the same
// order, or the first of them (a set may lack the last classes, as a
// WebDataset's does, whose classes run to its largest label).
func SameClasses(train, eval []string) error {
	if len(eval) == 0 {
		return errors.New("the images are unlabelled, and evaluation needs labels")
	}
	if len(eval) > len(train) {
		return fmt.Errorf("%d classes, where the training images have %d", len(eval), len(train))
	}
	for i, c := range eval {
		if c != train[i] {
			return fmt.Errorf("class %d is %q, where the training images' is %q (labels are indices into the sorted class names)", i, c, train[i])
		}
	}
	return nil
}
