package flash

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/deskphone/phone/firmware/update"
)

// Keygen writes a new key pair: the private key to priv (mode 0600) and
// the public key to pub. It refuses to overwrite an existing key.
func Keygen(priv, pub string) error {
	for _, p := range []string{priv, pub} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("flash: keygen: %s exists", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	privPEM, pubPEM, err := update.GenerateKey(nil)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(priv), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(priv, privPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(pub, pubPEM, 0o644)
}

// LoadPrivateKey reads a PEM private key file.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := update.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadPublicKey reads a PEM public key file.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := update.ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// SignFile signs the manifest file at manifest and writes manifest's
// signature beside it as sigPath.
func SignFile(keyPath, manifest, sigPath string) error {
	key, err := LoadPrivateKey(keyPath)
	if err != nil {
		return err
	}
	mb, err := os.ReadFile(manifest)
	if err != nil {
		return err
	}
	if _, err := update.ParseManifest(mb); err != nil {
		return fmt.Errorf("%s: %w", manifest, err)
	}
	return os.WriteFile(sigPath, update.Sign(key, mb), 0o644)
}

// ManifestPath and SigPath name the files that go with a disk image.
func ManifestPath(image string) string { return image + ".manifest" }

// SigPath names the detached signature of a disk image's manifest.
func SigPath(image string) string { return image + ".sig" }

// VerifyImage checks a disk image or an update bundle against pub: the
// signature over its manifest, then the size and SHA-256 of every part.
// It returns the manifest.
func VerifyImage(pub ed25519.PublicKey, path string) (*update.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if mb, sig, err := update.ReadBundleHeader(f); err == nil {
		m, err := update.Verify(pub, mb, sig)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		root, _ := m.Part("root")
		got, err := update.HashFile(path, update.BundleHeaderSize(len(mb)), root.Size)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if fi.Size() != update.BundleHeaderSize(len(mb))+root.Size {
			return nil, fmt.Errorf("%s: %w", path, update.ErrTooLong)
		}
		if got != root.SHA256 {
			return nil, fmt.Errorf("%s: root: %w", path, update.ErrDigest)
		}
		return m, nil
	}
	mb, err := os.ReadFile(ManifestPath(path))
	if err != nil {
		return nil, fmt.Errorf("flash: %s is not a bundle and has no manifest: %w", path, err)
	}
	sig, err := os.ReadFile(SigPath(path))
	if err != nil {
		return nil, fmt.Errorf("flash: %s: no signature: %w", path, err)
	}
	m, err := update.Verify(pub, mb, sig)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range m.Parts {
		if p.SHA256 == "" {
			continue
		}
		got, err := update.HashFile(path, p.Offset, p.Size)
		if err != nil {
			return nil, fmt.Errorf("%s: part %s: %w", path, p.Name, err)
		}
		if got != p.SHA256 {
			return nil, fmt.Errorf("%s: part %s: %w", path, p.Name, update.ErrDigest)
		}
	}
	return m, nil
}
