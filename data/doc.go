// Package data reads images and image–caption datasets and preprocesses
// images as open_clip does: image decoding that matches Pillow bit for bit,
// open_clip's eval and training transforms, the synthetic shapes dataset,
// captions files (TSV/CSV), COCO captions JSON, webdataset tar shards, and a
// parallel loader.
//
// # Limits
//
// Reading takes bounded time and memory whatever a file holds; bad input is
// an error naming the file and the line, member or field, never a panic:
//   - an image path must be a regular file (ErrNotRegular): a FIFO, a
//     device or a directory is refused without reading from it;
//   - an image whose header claims more than ImageOptions.MaxPixels pixels
//     (ErrTooManyPixels; Pillow's limit by default), or whose decoding and
//     preprocessing would take more than ImageOptions.MaxBytes of memory
//     (ErrImageTooLarge; 256 MiB by default, estimated from its size, colour
//     type and encoding), is refused before any pixel is decoded, and no
//     more than MaxBytes are read from its file;
//   - a webdataset caption member may hold at most 1 MiB;
//   - a captions file may start with a UTF-8 byte-order mark; a COCO value
//     of the wrong type is an error naming the item and field.
package data
