// Package coca is the CoCa model (Contrastive Captioners, Yu et al. 2022) as
// open_clip computes it, so that open_clip's published checkpoints load and
// give the same numbers: the vision tower with attentional poolers, the
// unimodal text tower with an appended CLS token, the multimodal decoder,
// the contrastive and captioning losses, and generation (the strategies
// of package coca/generate, driven by the model's KV-cached Decoder).
//
// # Concurrency
//
// A loaded Model serves any number of goroutines at once: EncodeImage,
// EncodeImageFeatures, EncodeText, EncodeTexts, ClassEmbeddings, ZeroShotProbs, Generate and
// its variants, GreedyReference, CrossAttention, each goroutine's own
// Decoders, and every method of a Pipeline (and Classifier) over the model
// only read the model's parameters. Each runs in a no-grad scope of its own
// (tensor.NoGrad), which records no graph and decides nothing for other
// goroutines; a caller may pass images already in a scope of its own.
// Their results are the same, bit for bit, whatever else runs.
//
// What writes the model must run alone on it: Init, Load, LoadBF16,
// QuantizeBF16, QuantizeInt8, SetPrecision, and training (Forward and Loss
// record a graph whose Backward writes the parameters' gradients, then an
// optimizer writes the parameters). Training one model while others serve
// inference is fine. A Decoder, like any tensor graph, belongs to one
// goroutine at a time.
//
// The tensor backend (tensor.SetBackend) is process-wide: choose it once,
// at start-up, before building models.
//
// # Memory
//
// The inference entry points return Go memory (tensors made with
// tensor.FromSlice, slices, token lists) and hand every buffer they took
// from the tensor pool back before returning, so callers never release
// anything and a device backend, which never garbage collects, holds no
// more memory after a call than before it (once its pool has warmed up).
// A Decoder holds its caches until Close.
package coca
