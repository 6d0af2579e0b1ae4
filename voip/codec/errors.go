package codec

// This package has no error values: every 16-bit sample and every byte is
// valid input to G.711, so Encode and Decode cannot fail. The file is kept
// so that the package follows the house layout.
