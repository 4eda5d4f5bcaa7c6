package train

// Data-parallel training over a dist.Comm (Options.Parallel).
//
// Every rank holds the whole model and runs the same steps on its own
// shard of each global batch: with W ranks and --batch B, the global batch
// is the W·B items a single process with --batch W·B would take at that
// step, and rank r takes the r-th block of B of them. So the union of the
// ranks' batches, in rank order, is exactly the single process's batch.
//
// One step, on every rank:
//  1. forward on the local batch;
//  2. all-gather the normalised image and text features (and the local
//     number of caption tokens) from every rank;
//  3. the contrastive loss on the gathered features, as open_clip computes
//     it with gather_with_grad: "gather" computes the whole W·B × W·B loss on
//     every rank, "local" (local_loss) only the rank's B rows against all W·B
//     columns. Its backward gives the gradient of the gathered features,
//     which is all-reduced (summed over ranks); the rank keeps the slice of
//     its own features. That all-reduce also sums the loss values for the log;
//  4. the backward pass of the local graph from
//     caption term + Σ features ⊙ (their gradient from step 3);
//     gradients are all-reduced in buckets, each started as soon as the
//     backward walk has finished every parameter in it, and divided by W.
//
// Scaling, so that W ranks × B equal 1 process × W·B up to float rounding
// (the parameter gradients are averaged, as PyTorch DDP does):
//   - gather: every rank's loss is the global contrastive loss L; the
//     summed feature gradient is W·∂L/∂f, and averaging leaves ∂L/∂θ.
//   - local: rank r's loss ℓ_r is the mean over its rows; the global loss
//     is (1/W)·Σ ℓ_r, which the average gives.
//   - caption: the global loss is Σ over all ranks' tokens / N (N the
//     global number of non-pad tokens, from the all-gather); rank r
//     back-propagates W·(its token sum)/N.
//
// Gradient clipping then sees the averaged (global) gradients, so it clips
// by the global norm; the optimizer steps are identical on every rank.
// Rank 0 alone writes the run directory (the others write to a scratch
// directory that is removed), evaluates while the others wait at a
// barrier, and writes checkpoints; on --resume rank 0 reads the checkpoint
// and broadcasts the parameters, optimizer state and data position.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gococa/gococa/coca"
	"github.com/gococa/gococa/data"
	"github.com/gococa/gococa/dist"
	"github.com/gococa/gococa/tensor"
)

// Parallel configures data-parallel training.
type Parallel struct {
	// Comm is the group of ranks (see package dist); nil trains in this
	// process alone. The caller opens and closes it.
	Comm dist.Comm
	// Loss is how the contrastive loss spans the ranks: "gather" (default;
	// every rank computes the full global loss) or "local" (each rank its own
	// rows against every rank's columns: less work, the same gradients).
	Loss string
	// BucketMB is the size of the gradient buckets all-reduced while the
	// backward pass runs, in MiB (default 2); negative: a single all-reduce
	// after the backward pass.
	BucketMB float64

	// inProcess marks the ranks of Options.Ranks (local.go): they agree
	// on stopping after each step, and write a checkpoint when stopped.
	inProcess bool
}

// dataParallel is the per-run state of data-parallel training.
type dataParallel struct {
	comm       *dist.Timed
	rank, size int
	local      bool
	limit      int // values per gradient bucket
	scratch    string
	it         *data.Iterator // the epoch being read (in-process ranks load it while they wait)

	params   []*tensor.Tensor
	index    map[*tensor.Tensor]int
	view     *shardView
	batch    int // local batch B
	layout   [][]int
	buckets  []*gradBucket
	bucketOf []int // parameter index → bucket
	order    []int // completion order recorded on the first step
	steps    int

	halt     [2]float32 // agreeHalt's flags
	gathered []float32
	mine     []float32
	reduce   []float32

	// step timing: wall time between consecutive steps that did nothing
	// else (no evaluation or checkpoint), and the communication inside them.
	lastStep  time.Time
	lastComm  time.Duration
	dirty     bool
	stepTime  time.Duration
	commTime  time.Duration
	timedStep int
}

type gradBucket struct {
	params  []int
	size    int
	buf     []float32
	pending int // parameters not yet complete in this step
	req     dist.Request
	started bool
}

func (r *run) isRoot() bool { return r.dp == nil || r.dp.rank == 0 }

// inProcess reports whether the run is one of Options.Ranks' in-process
// ranks.
func (r *run) inProcess() bool { return r.dp != nil && r.o.Parallel.inProcess }

// setupParallel prepares a rank before setup: ranks other than 0 work in a
// scratch directory and write no logs; on --resume they receive rank 0's
// tokenizer and config first.
func (r *run) setupParallel() error {
	p := r.o.Parallel
	if p.Comm == nil {
		return nil
	}
	switch p.Loss {
	case "", "gather", "local":
	default:
		return fmt.Errorf("train: unknown data-parallel loss %q (want gather or local)", p.Loss)
	}
	d := &dataParallel{comm: dist.NewTimed(p.Comm), rank: p.Comm.Rank(), size: p.Comm.Size(), local: p.Loss == "local", dirty: true}
	mb := p.BucketMB
	if mb == 0 {
		mb = 2
	}
	d.limit = math.MaxInt
	if mb > 0 {
		d.limit = max(int(mb*(1<<20)/4), 1)
	}
	r.dp = d
	if d.rank != 0 {
		dir, err := os.MkdirTemp("", fmt.Sprintf("coca-rank%d-", d.rank))
		if err != nil {
			return fmt.Errorf("train: rank %d: %w", d.rank, err)
		}
		d.scratch = dir
		r.o.Out, r.o.Log, r.o.Progress = dir, io.Discard, io.Discard
	}
	return r.shareRunFiles()
}

// shareRunFiles sends rank 0's tokenizer and config to the other ranks'
// scratch directories before they set up a resumed run.
func (r *run) shareRunFiles() error {
	d := r.dp
	if d == nil || !r.o.Resume {
		return nil
	}
	for _, name := range []string{"tokenizer.txt", "config.json", runFile} {
		var b []byte
		var have bool
		if d.rank == 0 {
			var err error
			b, err = os.ReadFile(filepath.Join(r.o.Out, name))
			have = err == nil
		}
		b, have, err := broadcastBytes(d.comm, b, have)
		if err != nil {
			return err
		}
		if d.rank != 0 && have {
			if err := os.WriteFile(filepath.Join(r.o.Out, name), b, 0o644); err != nil {
				return fmt.Errorf("train: rank %d: %w", d.rank, err)
			}
		}
	}
	return nil
}

// closeParallel removes a rank's scratch directory.
func (r *run) closeParallel() {
	if r.dp != nil && r.dp.scratch != "" {
		os.RemoveAll(r.dp.scratch)
	}
}

// shardData replaces the loader by one over this rank's shard of every
// global batch.
func (r *run) shardData() error {
	d := r.dp
	if d == nil {
		return nil
	}
	d.batch = r.o.BatchSize
	v := &shardView{ds: r.train, rank: d.rank, size: d.size, batch: d.batch, global: r.loader}
	var ds data.Dataset = v
	if c, ok := r.train.(data.CHWDataset); ok {
		ds = &shardViewCHW{v, c}
	}
	cfg := r.loader.Config()
	cfg.Shuffle = false // the view follows the global loader's order
	// In-process ranks load their batches themselves, ahead, in the time
	// they wait for each other (a prototype, 300 steps of the main job on
	// 2 cores, 4 interleaved pairs: 25.3-25.5 against 26.3-27.5 ms per
	// step with workers, of which 0.9-1.2 against 1.6-1.8 ms in
	// collectives).
	cfg.Inline = r.inProcess()
	l, err := data.NewLoader(ds, cfg)
	if err != nil {
		return err
	}
	d.view, r.loader = v, l
	if cfg.Inline {
		dist.WhileWaiting(r.o.Parallel.Comm, func() bool { return d.it.Help() })
	}
	return nil
}

// epochFrom starts iterating an epoch at global position pos (items of
// the epoch's order consumed by the whole group).
func (r *run) epochFrom(epoch, pos int) *data.Iterator {
	if r.dp == nil {
		return r.loader.EpochFrom(epoch, pos)
	}
	r.dp.view.setEpoch(epoch, pos)
	r.dp.it = r.loader.EpochFrom(epoch, 0)
	return r.dp.it
}

// position returns the global position of it (see epochFrom).
func (r *run) position(it *data.Iterator) int {
	if r.dp == nil {
		return it.Pos()
	}
	v, p := r.dp.view, it.Pos()
	return v.start + p/v.batch*v.size*v.batch + p%v.batch
}

// shardView is rank's part of the global batches of one epoch: item i is
// item j of local batch k, that is global order position
// start + k·W·B + rank·B + j.
type shardView struct {
	ds                data.Dataset
	global            *data.Loader // its Order is the epoch's global order
	rank, size, batch int
	order             []int
	start             int
}

func (v *shardView) setEpoch(epoch, start int) {
	v.order = v.global.Order(epoch)
	v.start = min(max(start, 0), len(v.order))
}

func (v *shardView) Len() int {
	n := v.ds.Len() - v.start
	return n / (v.size * v.batch) * v.batch
}

func (v *shardView) index(i int) int {
	k, j := i/v.batch, i%v.batch
	return v.order[v.start+k*v.size*v.batch+v.rank*v.batch+j]
}

func (v *shardView) Item(i int) (image.Image, string, error) { return v.ds.Item(v.index(i)) }

type shardViewCHW struct {
	*shardView
	chw data.CHWDataset
}

func (v *shardViewCHW) ImageSize() int { return v.chw.ImageSize() }
func (v *shardViewCHW) ItemCHW(dst []float32, i int) (string, error) {
	return v.chw.ItemCHW(dst, v.index(i))
}

// loadCheckpoint restores the run's checkpoint; with several ranks rank 0
// reads it and the others receive the data position here and the model
// and optimizer state in syncStart.
func (r *run) loadCheckpoint() (checkpointInfo, error) {
	d := r.dp
	if d == nil {
		return loadCheckpoint(r.o.Out, r.model, r.opt)
	}
	var info checkpointInfo
	var err error
	if d.rank == 0 {
		info, err = loadCheckpoint(r.o.Out, r.model, r.opt)
	}
	if err := agree(d.comm, err); err != nil {
		return info, err
	}
	pos := []int{info.Step, info.Epoch, info.Position}
	if err := broadcastInts(d.comm, pos); err != nil {
		return info, err
	}
	info.Step, info.Epoch, info.Position = pos[0], pos[1], pos[2]
	return info, nil
}

// syncStart makes every rank start from rank 0's model (and, on resume,
// optimizer state), after checking that all built the same model,
// tokenizer and optimizer.
func (r *run) syncStart() error {
	d := r.dp
	if d == nil {
		return nil
	}
	h := fnv.New64a()
	h.Write(r.cfg.JSON())
	h.Write([]byte(r.merges))
	fmt.Fprint(h, r.tok.VocabSize(), r.o.Optimizer, r.o.BatchSize)
	for _, p := range r.model.Params() {
		fmt.Fprint(h, p.Name, p.Tensor.Shape())
	}
	if err := sameEverywhere(d.comm, h.Sum64(), "model config, tokenizer, optimizer or batch size"); err != nil {
		return err
	}
	h.Reset()
	h.Write([]byte(r.o.Precision))
	if err := sameEverywhere(d.comm, h.Sum64(), "precision (--precision auto is bf16 only where the CPU has AVX512_BF16: give it explicitly when the hosts differ)"); err != nil {
		return err
	}
	for _, p := range r.model.Params() {
		d.params = append(d.params, p.Tensor)
	}
	d.index = make(map[*tensor.Tensor]int, len(d.params))
	for i, p := range d.params {
		d.index[p] = i
	}
	for _, p := range d.params {
		if d.deviceBuckets() {
			if err := d.comm.Broadcast(p.Data(), 0); err != nil { // in place
				return err
			}
			continue
		}
		v := append([]float32(nil), tensor.HostValues(p, nil)...)
		if err := d.comm.Broadcast(v, 0); err != nil {
			return err
		}
		p.CopyFrom(v)
	}
	if r.o.Resume {
		st := r.opt.State()
		keys := slices.Sorted(maps.Keys(st.ParamSteps))
		ints := []int{st.Steps}
		for _, k := range keys {
			ints = append(ints, st.ParamSteps[k])
		}
		if err := broadcastInts(d.comm, ints); err != nil {
			return err
		}
		st.Steps = ints[0]
		for i, k := range keys {
			st.ParamSteps[k] = ints[1+i]
		}
		for _, k := range slices.Sorted(maps.Keys(st.Tensors)) {
			if err := d.comm.Broadcast(st.Tensors[k].Data, 0); err != nil {
				return err
			}
		}
		if d.rank != 0 {
			if err := r.opt.LoadState(st); err != nil {
				return fmt.Errorf("train: rank %d: optimizer state from rank 0: %w", d.rank, err)
			}
		}
	}
	loss := "gather: every rank computes the whole contrastive loss"
	if d.local {
		loss = "local: each rank its rows of the contrastive loss"
	}
	if !r.inProcess() {
		fmt.Fprintf(r.o.Log, "data-parallel over %d ranks%s: global batch %d×%d = %d, %s\n", d.size, hostList(r.o.Parallel.Comm), d.size, d.batch, d.size*d.batch, loss)
	}
	return nil
}

// hostList describes where the ranks run (" on 2 hosts: h0, h1"), when the
// communicator knows.
func hostList(c dist.Comm) string {
	hn, ok := c.(dist.HostNamer)
	if !ok {
		return ""
	}
	var hosts []string
	for _, h := range hn.Hosts() {
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		return ""
	}
	list := strings.Join(hosts[:min(len(hosts), 8)], ", ")
	if len(hosts) > 8 {
		list += ", …"
	}
	if len(hosts) == 1 {
		return " on one host (" + list + ")"
	}
	return fmt.Sprintf(" on %d hosts (%s)", len(hosts), list)
}

// stepLoss is one step's loss values and the rest of its work.
type stepLoss struct {
	total, con, cap float64
	backward        func() error // backward pass (and gradient all-reduce), then release the graph
	release         func()       // release the graph without a backward pass
}

// loss computes the step's loss: in this process alone, or across the
// ranks (the all-gather of features and the all-reduce of their gradient
// happen here, the parameter gradients' all-reduce in backward).
func (r *run) loss(out *coca.Output, ids []int, b, l int, w coca.LossWeights) (stepLoss, error) {
	if r.dp == nil {
		loss := r.model.Loss(out, ids, b, l, w)
		// One read from a device: the losses, the logit scale they used
		// (for the log) and the guard's count of the last update.
		ts := []*tensor.Tensor{loss.Total, loss.Contrastive, loss.Caption, r.model.LogitScale}
		if r.guard.pending > 0 {
			ts = append(ts, r.guard.count)
		}
		v := tensor.Items(ts...)
		r.guard.scale, r.guard.scaleRead = v[3], true
		if r.guard.pending > 0 {
			if err := r.settleCount(v[4]); err != nil {
				tensor.Release(loss.Total)
				return stepLoss{}, err
			}
		}
		return stepLoss{
			total: float64(v[0]), con: float64(v[1]), cap: float64(v[2]),
			backward: func() error { tensor.BackwardRelease(loss.Total, nil); return nil },
			release:  func() { tensor.Release(loss.Total) },
		}, nil
	}
	return r.dp.loss(r.model, out, ids, b, l, w)
}

func (d *dataParallel) loss(m *coca.Model, o *coca.Output, ids []int, b, l int, w coca.LossWeights) (stepLoss, error) {
	now := time.Now()
	if comm, _ := d.comm.Elapsed(); !d.dirty && d.steps > 1 {
		d.stepTime += now.Sub(d.lastStep)
		d.commTime += comm - d.lastComm
		d.timedStep++
	}
	d.lastStep, d.dirty = now, false
	d.lastComm, _ = d.comm.Elapsed()
	d.steps++

	W, R := d.size, d.rank
	dim := o.ImageFeatures.Dim(1)
	pad := m.Config.Text.PadID
	// The labels of the positions Forward computed (the rest are pad).
	np := o.Logits.Dim(1) + 1
	labels := make([]int, b*(np-1))
	nTok := 0
	for bi := 0; bi < b; bi++ {
		copy(labels[bi*(np-1):(bi+1)*(np-1)], ids[bi*l+1:bi*l+np])
	}
	for _, t := range labels {
		if t != pad {
			nTok++
		}
	}
	// 1. Gather [image features | text features | token count] from every rank.
	per := 2*b*dim + 1
	d.mine = grow(d.mine, 2*b*dim+1)
	tensor.CopyOut(d.mine[:b*dim], o.ImageFeatures.Data()) // copies from a device
	tensor.CopyOut(d.mine[b*dim:2*b*dim], o.TextFeatures.Data())
	d.mine[2*b*dim] = float32(nTok)
	d.gathered = grow(d.gathered, W*per)
	if err := d.comm.AllGather(d.gathered, d.mine); err != nil {
		return stepLoss{}, err
	}
	gi, gt := tensor.Zeros(W*b, dim), tensor.Zeros(W*b, dim)
	gi.SetRequiresGrad(true)
	gt.SetRequiresGrad(true)
	nAll := 0
	for q := 0; q < W; q++ {
		blk := d.gathered[q*per : (q+1)*per]
		tensor.CopyIn(gi.Data()[q*b*dim:], blk[:b*dim]) // copies onto a device
		tensor.CopyIn(gt.Data()[q*b*dim:], blk[b*dim:2*b*dim])
		nAll += int(blk[2*b*dim])
	}
	// 2. The contrastive loss on the gathered features (open_clip's
	// ClipLoss with gather_with_grad; coca.Model.Loss's ContrastiveLoss).
	var con *tensor.Tensor
	if d.local {
		il, tl := tensor.Rows(gi, R*b, (R+1)*b), tensor.Rows(gt, R*b, (R+1)*b)
		con = coca.ContrastiveLoss(il, tl, gi, gt, R*b, o.LogitScale, w.Contrastive) // (B, W·B) logits
	} else {
		con = coca.ContrastiveLoss(gi, gt, gi, gt, 0, o.LogitScale, w.Contrastive) // (W·B, W·B) logits
	}
	conVal := con.Item()
	tensor.Backward(con) // gradients of the gathered features and of logit_scale
	// 3. Caption loss on the local tokens.
	v := o.Logits.Dim(2)
	capCE := tensor.CrossEntropy(tensor.Reshape(o.Logits, b*(np-1), v), labels, pad)
	capSum := capCE.Item() * float32(nTok)
	// 4. Sum the features' gradients and the loss values over the ranks.
	n := W * b * dim
	d.reduce = grow(d.reduce, 2*n+2)
	tensor.CopyOut(d.reduce[:n], gi.Grad()) // copies from a device
	tensor.CopyOut(d.reduce[n:2*n], gt.Grad())
	d.reduce[2*n] = conVal / float32(W)
	d.reduce[2*n+1] = w.Caption * capSum
	tensor.Release(con)
	if err := d.comm.AllReduceSum(d.reduce); err != nil {
		return stepLoss{}, err
	}
	sl := stepLoss{con: float64(d.reduce[2*n]), cap: float64(d.reduce[2*n+1]) / float64(nAll)}
	sl.total = sl.con + sl.cap
	// The local graph's root: W·(token sum)/N·weight for the caption, and
	// Σ f ⊙ ∂L/∂f for this rank's slice of the features.
	gI := tensor.FromSlice(d.reduce[R*b*dim:(R+1)*b*dim], b, dim)
	gT := tensor.FromSlice(d.reduce[n+R*b*dim:n+(R+1)*b*dim], b, dim)
	capTerm := tensor.Scale(capCE, w.Caption*float32(W)*float32(nTok)/float32(nAll))
	root := tensor.Add(capTerm, tensor.Add(
		tensor.Sum(tensor.Mul(o.ImageFeatures, gI), false),
		tensor.Sum(tensor.Mul(o.TextFeatures, gT), false)))
	sl.release = func() { tensor.Release(root) }
	sl.backward = func() error { return d.backward(root) }
	return sl, nil
}

// deviceBuckets reports whether the gradient buckets live in the
// backend's memory: a device backend and a communicator that reads device
// buffers in place (NCCL). Otherwise they are Go memory, and gradients on
// a device are copied out and back.
func (d *dataParallel) deviceBuckets() bool {
	c, ok := d.comm.Comm.(interface{ DeviceBuffers() bool })
	return ok && c.DeviceBuffers() && tensor.OnDevice()
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// backward runs the backward pass of root, releasing its graph as it goes,
// and all-reduces the parameter gradients in buckets. The first step records the order in which the
// parameters complete and builds the buckets from it (checking that every
// rank has the same); later steps start a bucket's all-reduce as soon as
// its last parameter completes, in bucket order.
func (d *dataParallel) backward(root *tensor.Tensor) error {
	if d.layout == nil {
		d.order = d.order[:0]
		seen := make([]bool, len(d.params))
		tensor.BackwardRelease(root, func(t *tensor.Tensor) {
			if i, ok := d.index[t]; ok && !seen[i] {
				seen[i] = true
				d.order = append(d.order, i)
			}
		})
		for i := range d.params {
			if !seen[i] {
				d.order = append(d.order, i)
			}
		}
		if err := d.buildBuckets(); err != nil {
			return err
		}
		for k := range d.buckets {
			if err := d.startBucket(k); err != nil {
				return err
			}
		}
		return d.finishBuckets()
	}
	for _, bk := range d.buckets {
		bk.pending, bk.started, bk.req = len(bk.params), false, nil
	}
	var err error
	next := 0 // the next bucket to start: buckets start in order on every rank
	tensor.BackwardRelease(root, func(t *tensor.Tensor) {
		i, ok := d.index[t]
		if !ok || err != nil {
			return
		}
		d.buckets[d.bucketOf[i]].pending--
		for next < len(d.buckets) && d.buckets[next].pending == 0 {
			if err = d.startBucket(next); err != nil {
				return
			}
			next++
		}
		// Let the reductions in flight advance.
		for k := 0; k < next; k++ {
			if bk := d.buckets[k]; bk.req != nil {
				if done, e := bk.req.Test(); e != nil {
					err = e
				} else if !done {
					break
				}
			}
		}
	})
	if err != nil {
		return err
	}
	for ; next < len(d.buckets); next++ {
		if err := d.startBucket(next); err != nil {
			return err
		}
	}
	return d.finishBuckets()
}

func (d *dataParallel) buildBuckets() error {
	d.layout = nil
	var cur []int
	size := 0
	for _, i := range d.order {
		n := d.params[i].Numel()
		if len(cur) > 0 && size+n > d.limit {
			d.layout = append(d.layout, cur)
			cur, size = nil, 0
		}
		cur = append(cur, i)
		size += n
	}
	if len(cur) > 0 {
		d.layout = append(d.layout, cur)
	}
	h := fnv.New64a()
	d.buckets = d.buckets[:0]
	d.bucketOf = make([]int, len(d.params))
	for k, ps := range d.layout {
		bk := &gradBucket{params: ps}
		for _, i := range ps {
			bk.size += d.params[i].Numel()
			d.bucketOf[i] = k
			binary.Write(h, binary.LittleEndian, int64(i))
		}
		binary.Write(h, binary.LittleEndian, int64(-1))
		if d.deviceBuckets() {
			bk.buf = tensor.Alloc(bk.size) // the collectives read it in place
		} else {
			bk.buf = make([]float32, bk.size)
		}
		if !tensor.OnDevice() {
			// The gradients live in the bucket: the backward pass writes
			// them where the all-reduce reads them, and the averages are
			// scaled in place. (A parameter without a gradient yet keeps
			// none: the optimizers skip those.)
			off := 0
			for _, i := range ps {
				p := d.params[i]
				if p.Grad() != nil {
					p.SetGradBuffer(bk.buf[off : off+p.Numel()])
				}
				off += p.Numel()
			}
		}
		d.buckets = append(d.buckets, bk)
	}
	return sameEverywhere(d.comm, h.Sum64(), "gradient bucket layout (the order in which the backward pass completes the parameters)")
}

func (d *dataParallel) startBucket(k int) error {
	bk := d.buckets[k]
	off := 0
	for _, i := range bk.params {
		p := d.params[i]
		g, dst := p.Grad(), bk.buf[off:off+p.Numel()]
		switch {
		case len(g) > 0 && &g[0] == &dst[0]:
			// already there (SetGradBuffer)
		case d.deviceBuckets() && g == nil:
			tensor.CurrentBackend().Fill(dst, 0)
		case d.deviceBuckets():
			tensor.CurrentBackend().Scale(1, dst, g) // on the device; ×1 is exact
		case g == nil:
			clear(dst)
		default:
			tensor.CopyOut(dst, g) // one copy from a device
		}
		off += p.Numel()
	}
	req, err := d.comm.StartAllReduceSum(bk.buf)
	if err != nil {
		return err
	}
	bk.req, bk.started = req, true
	return nil
}

// finishBuckets waits for every bucket and writes the averaged gradients
// back.
func (d *dataParallel) finishBuckets() error {
	inv := 1 / float32(d.size)
	for _, bk := range d.buckets {
		if err := bk.req.Wait(); err != nil {
			return err
		}
		off := 0
		for _, i := range bk.params {
			p := d.params[i]
			if g := p.Grad(); g != nil {
				src := bk.buf[off : off+len(g)]
				if d.deviceBuckets() || !tensor.OnDevice() {
					tensor.CurrentBackend().Scale(inv, g, src)
				} else {
					for j := range src {
						src[j] *= inv
					}
					tensor.CopyIn(g, src) // one copy onto the device
				}
			}
			off += p.Numel()
		}
		bk.req = nil
	}
	return nil
}

// evalBarrier makes the other ranks wait while rank 0 evaluates.
func (r *run) evalBarrier() error {
	if r.dp == nil {
		return nil
	}
	r.dp.dirty = true
	return r.dp.comm.Barrier()
}

// checkSave runs on every rank before a checkpoint: it checks that the
// ranks' parameters are still identical, and reports whether this rank
// writes (rank 0 only).
func (r *run) checkSave(step int) (write bool, err error) {
	d := r.dp
	if d == nil {
		return true, nil
	}
	d.dirty = true
	h := fnv.New64a()
	var b [4]byte
	var buf []float32
	for _, p := range d.params {
		vals := tensor.HostValues(p, buf) // a copy from a device
		if tensor.OnDevice() {
			buf = vals
		}
		for _, v := range vals {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			h.Write(b[:])
		}
	}
	if err := sameEverywhere(d.comm, h.Sum64(), fmt.Sprintf("parameters at step %d", step)); err != nil {
		return false, err
	}
	return d.rank == 0, nil
}

// endParallel waits for rank 0 to finish writing and reports the
// communication share of the steps.
func (r *run) endParallel() error {
	d := r.dp
	if d == nil {
		return nil
	}
	if err := d.comm.Barrier(); err != nil {
		return err
	}
	if d.timedStep > 0 {
		st, ct := d.stepTime/time.Duration(d.timedStep), d.commTime/time.Duration(d.timedStep)
		kind := "data-parallel"
		if r.inProcess() {
			kind = "in-process data-parallel (--ranks)"
		}
		fmt.Fprintf(r.o.Log, "%s: %d ranks, %.1f ms per step, of which %.1f ms (%.1f%%) inside collectives (mean over %d steps)\n",
			kind, d.size, st.Seconds()*1e3, ct.Seconds()*1e3, 100*ct.Seconds()/st.Seconds(), d.timedStep)
	}
	return nil
}

// agree makes every rank fail when one does: each reports whether err is
// set, and a rank without an error of its own returns one naming the
// ranks that failed.
func agree(c dist.Comm, err error) error {
	flags := make([]float32, c.Size())
	mine := []float32{0}
	if err != nil {
		mine[0] = 1
	}
	if e := c.AllGather(flags, mine); e != nil {
		return errors.Join(err, e)
	}
	if err != nil {
		return err
	}
	var bad []int
	for q, f := range flags {
		if f != 0 {
			bad = append(bad, q)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("train: rank %d: stopping because rank(s) %v failed (see their message)", c.Rank(), bad)
	}
	return nil
}

// sameEverywhere checks that every rank has the same hash, naming the
// ranks whose hash differs from rank 0's.
func sameEverywhere(c dist.Comm, h uint64, what string) error {
	all := make([]float32, 2*c.Size())
	mine := []float32{math.Float32frombits(uint32(h)), math.Float32frombits(uint32(h >> 32))}
	if err := c.AllGather(all, mine); err != nil {
		return err
	}
	var bad []int
	for q := 1; q < c.Size(); q++ {
		if math.Float32bits(all[2*q]) != math.Float32bits(all[0]) || math.Float32bits(all[2*q+1]) != math.Float32bits(all[1]) {
			bad = append(bad, q)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("train: rank %d: the %s of rank(s) %v differ from rank 0's (give every rank the same flags, data and files)", c.Rank(), what, bad)
	}
	return nil
}

// broadcastInts sends rank 0's ints (as two float32 bit patterns each).
func broadcastInts(c dist.Comm, v []int) error {
	buf := make([]float32, 2*len(v))
	for i, x := range v {
		buf[2*i], buf[2*i+1] = math.Float32frombits(uint32(uint64(x))), math.Float32frombits(uint32(uint64(x)>>32))
	}
	if err := c.Broadcast(buf, 0); err != nil {
		return err
	}
	for i := range v {
		v[i] = int(uint64(math.Float32bits(buf[2*i])) | uint64(math.Float32bits(buf[2*i+1]))<<32)
	}
	return nil
}

// broadcastBytes sends rank 0's bytes (and whether it has them).
func broadcastBytes(c dist.Comm, b []byte, have bool) ([]byte, bool, error) {
	hdr := []int{len(b), 0}
	if have {
		hdr[1] = 1
	}
	if err := broadcastInts(c, hdr); err != nil {
		return nil, false, err
	}
	n := hdr[0]
	buf := make([]float32, (n+3)/4)
	if c.Rank() == 0 {
		var w [4]byte
		for i := range buf {
			clear(w[:])
			copy(w[:], b[4*i:min(4*i+4, n)])
			buf[i] = math.Float32frombits(binary.LittleEndian.Uint32(w[:]))
		}
	}
	if err := c.Broadcast(buf, 0); err != nil {
		return nil, false, err
	}
	out := make([]byte, 4*len(buf))
	for i, f := range buf {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
	}
	return out[:n], hdr[1] == 1, nil
}

// worldSize is the number of ranks (1 in a single process).
func (r *run) worldSize() int {
	if r.dp == nil {
		return 1
	}
	return r.dp.size
}
