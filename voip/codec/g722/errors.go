package g722

// This package has no error values: every 16-bit sample and every octet is
// valid input to G.722, so Encode and Decode cannot fail. The file is kept
// so that the package follows the house layout.
