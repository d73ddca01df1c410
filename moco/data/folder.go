package data

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/mocogo/mocogo/internal/regularfile"
)

// imageExtensions are the file extensions the readers load, any case, in
// the order a WebDataset sample's image is chosen: torchvision's
// ImageFolder list but for PPM and PGM (no Go decoder) and TIFF, whose Go
// decoder's allocations a hostile header can push far past the image's
// size (its strip and tile tables).
var imageExtensions = []string{".jpg", ".jpeg", ".png", ".webp", ".bmp"}

// imageExtensionList is ".jpg/.jpeg/.png/.webp/.bmp", for messages.
const imageExtensionList = ".jpg/.jpeg/.png/.webp/.bmp"

// IsImageFile reports whether name has an image extension the readers
// load (.jpg, .jpeg, .png, .webp, .bmp; any case).
func IsImageFile(name string) bool {
	return slices.Contains(imageExtensions, strings.ToLower(path.Ext(name)))
}

// MaxFileSize bounds the size of one image file or archive entry.
var MaxFileSize int64 = 1 << 28

// ImageFolder reads torchvision's ImageFolder layout: root/<class>/…/file,
// one sub-directory per class. Classes are the sub-directory names sorted
// by byte value; files are found recursively, each directory's files
// sorted, directories visited in sorted path order (as torchvision's
// make_dataset does). Files without an image extension are ignored, and
// so are files directly in root, unless root has no sub-directories but
// hidden ones (and __MACOSX): then its images, sorted, are an unlabelled
// set (no classes, every label Unlabelled), for self-supervised training.
// An image file must be a regular file, or a link to one: a named pipe,
// device or socket is refused (ErrNotRegular), when the folder is listed
// or, behind a link, when it is read.
type ImageFolder struct {
	root    string
	classes []string
	paths   []string
	labels  []int32
}

// NewImageFolder indexes the directory root.
func NewImageFolder(root string) (*ImageFolder, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("data: image folder %s: %w", root, err)
	}
	f := &ImageFolder{root: root}
	for _, e := range ents {
		if e.IsDir() || (e.Type()&fs.ModeSymlink != 0 && isDir(filepath.Join(root, e.Name()))) {
			f.classes = append(f.classes, e.Name())
		}
	}
	sort.Strings(f.classes)
	if !slices.ContainsFunc(f.classes, func(c string) bool { return !strings.HasPrefix(c, ".") && c != "__MACOSX" }) &&
		slices.ContainsFunc(ents, func(e os.DirEntry) bool { return IsImageFile(e.Name()) }) {
		// No class folders (hidden ones and a zip tool's __MACOSX aside):
		// the images in root, unlabelled.
		f.classes = nil
		for _, e := range ents {
			if !IsImageFile(e.Name()) {
				continue
			}
			p := filepath.Join(root, e.Name())
			if ok, err := listImage(p, e.Type()); err != nil {
				return nil, fmt.Errorf("data: image folder %s: %w", root, err)
			} else if ok && (e.Type()&fs.ModeSymlink == 0 || !isDir(p)) {
				f.paths = append(f.paths, p)
				f.labels = append(f.labels, Unlabelled)
			}
		}
		if len(f.paths) == 0 {
			return nil, fmt.Errorf("data: image folder %s: no class sub-directories and no %s files", root, imageExtensionList)
		}
		return f, nil
	}
	if len(f.classes) == 0 {
		return nil, fmt.Errorf("data: image folder %s: no class sub-directories and no %s files", root, imageExtensionList)
	}
	for ci, c := range f.classes {
		type dirFiles struct {
			dir   string
			files []string
		}
		var dirs []dirFiles
		cur := map[string]int{}
		// The trailing separator makes WalkDir enter a class directory
		// that is a symbolic link (torchvision follows links too).
		err := filepath.WalkDir(filepath.Join(root, c)+string(filepath.Separator), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !IsImageFile(d.Name()) {
				return nil
			}
			if ok, err := listImage(p, d.Type()); !ok {
				return err
			}
			dir := filepath.Dir(p)
			k, ok := cur[dir]
			if !ok {
				k = len(dirs)
				cur[dir] = k
				dirs = append(dirs, dirFiles{dir: dir})
			}
			dirs[k].files = append(dirs[k].files, d.Name())
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("data: image folder %s: %w", root, err)
		}
		sort.Slice(dirs, func(a, b int) bool { return dirs[a].dir < dirs[b].dir })
		for _, d := range dirs {
			sort.Strings(d.files)
			for _, name := range d.files {
				f.paths = append(f.paths, filepath.Join(d.dir, name))
				f.labels = append(f.labels, int32(ci))
			}
		}
	}
	if len(f.paths) == 0 {
		return nil, fmt.Errorf("data: image folder %s: no %s files", root, imageExtensionList)
	}
	return f, nil
}

// listImage reports whether the folder entry p, of type t as the folder
// lists it (a symbolic link not followed), is an image file to take: a
// regular file or a symbolic link, not a folder. A named pipe, device or
// socket is an error (ErrNotRegular) here, where the listing tells at no
// cost; a link to one is refused when it is read (Item), so that listing
// a folder of links costs no stat per file.
func listImage(p string, t fs.FileMode) (bool, error) {
	switch {
	case t.IsDir():
		return false, nil
	case t&fs.ModeSymlink == 0 && !t.IsRegular():
		return false, regularfile.NotRegular(p, t)
	}
	return true, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func (f *ImageFolder) Len() int          { return len(f.paths) }
func (f *ImageFolder) Classes() []string { return f.classes }
func (f *ImageFolder) Label(i int) int   { return int(f.labels[i]) }
func (f *ImageFolder) Name(i int) string { return f.paths[i] }
func (f *ImageFolder) Root() string      { return f.root }

// Item reads and decodes file i.
func (f *ImageFolder) Item(i int) (Sample, error) {
	if i < 0 || i >= len(f.paths) {
		return Sample{}, fmt.Errorf("data: image folder %s: index %d out of range [0,%d)", f.root, i, len(f.paths))
	}
	p := f.paths[i]
	b, err := regularfile.Read(p, func(size int64) error {
		if size > MaxFileSize {
			return fmt.Errorf("%s: file of %d bytes exceeds MaxFileSize %d", p, size, MaxFileSize)
		}
		return nil
	})
	if err != nil {
		return Sample{}, fmt.Errorf("data: %w", err)
	}
	img, err := DecodeImage(p, b)
	if err != nil {
		return Sample{}, err
	}
	return Sample{Image: img, Label: int(f.labels[i]), Name: p}, nil
}
