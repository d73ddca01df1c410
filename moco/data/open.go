package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
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
//   - a folder with {train,t10k}-images-idx3-ubyte[.gz] (MNIST family):
//     the split named by split ("train" or "test");
//   - a folder with data_batch_*.bin / test_batch.bin (CIFAR-10) or
//     train.bin / test.bin (CIFAR-100, fine labels);
//   - any other folder: ImageFolder (one sub-folder per class; a folder
//     of images with no sub-folders is an unlabelled set).
//
// Archives and ImageFolders are a single split: asking for "test" gives
// ErrNoTestSplit.
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
			return nil, fmt.Errorf("data: %w", notRegular(path, st.Mode()))
		}
		if IsArchive(path) {
			return openArchives(path, []string{path}, split)
		}
		return nil, fmt.Errorf("data: %s is a file but not a .tar, .tar.gz or .tgz archive", path)
	}
	prefix := map[string]string{"train": "train", "test": "t10k"}[split]
	if img, lab := findIDX(path, prefix); img != "" {
		var classes []string
		if strings.Contains(strings.ToLower(path), "fashion") {
			classes = FashionMNISTClasses
		}
		return NewIDX(img, lab, classes)
	}
	if files := globSorted(path, "data_batch_*.bin"); len(files) > 0 {
		if split == "test" {
			test := filepath.Join(path, "test_batch.bin")
			if !present(test) {
				// As an MNIST folder without t10k files: callers may hold
				// training images out instead.
				return nil, fmt.Errorf("%w: %s holds CIFAR-10 training batches but no test_batch.bin", ErrNoTestSplit, path)
			}
			files = []string{test}
		}
		return NewCIFAR10(files...)
	}
	if f := filepath.Join(path, split+".bin"); present(f) {
		return NewCIFAR100(true, f)
	}
	if split == "test" && present(filepath.Join(path, "train.bin")) {
		return nil, fmt.Errorf("%w: %s holds CIFAR-100's train.bin but no test.bin", ErrNoTestSplit, path)
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

func findIDX(dir, prefix string) (images, labels string) {
	for _, ext := range []string{".gz", ""} {
		img := filepath.Join(dir, prefix+"-images-idx3-ubyte"+ext)
		lab := filepath.Join(dir, prefix+"-labels-idx1-ubyte"+ext)
		if exists(img) && exists(lab) {
			return img, lab
		}
	}
	return "", ""
}

func globSorted(dir, pattern string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	sort.Strings(m)
	return m
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
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
