package torchfile

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gococa/gococa/tensor/safetensors"
)

// This file holds a small pickle virtual machine: enough of Python's pickle
// protocols 0-5 to read what torch.save writes (state dicts, open_clip training
// checkpoints with optimizer state), restricted to a whitelist of globals. It
// never executes anything: a whitelisted global only builds Go values.

// Values on the pickle stack.
type (
	pyTuple []any
	pyList  struct{ items []any }
	pyDict  struct {
		keys  []any
		vals  []any
		index map[any]int
	}
	// pyGlobal is a whitelisted module attribute (a class or function).
	pyGlobal struct{ module, name string }
	// pyStorage is a storage named by a persistent id; its bytes live in the
	// archive member data/<key>.
	pyStorage struct {
		dtype    safetensors.DType
		typeName string
		key      string
		location string
		numel    int64
		need     int64 // bytes the tensors view (a prefix; set by checkStorages)
	}
	// pyTensor is a strided view of a storage, from _rebuild_tensor_v2.
	pyTensor struct {
		storage *pyStorage
		offset  int64
		size    []int64
		stride  []int64
	}
)

func newDict() *pyDict { return &pyDict{index: make(map[any]int)} }

// Dict keys. A string, number, bool or None is its own key; the other
// hashable values map to distinct comparable types, so that b"x", "x" and
// ("x",) never collide.
type (
	bytesKey string
	// tupleKey numbers a tuple by value: equal tuples get equal numbers.
	tupleKey int
	// tupleIdent is a tuple's identity: its backing array and length. Memo
	// references push the same tuple again, so a key shared a million times
	// is numbered once.
	tupleIdent struct {
		first *any
		n     int
	}
)

// maxKeyDepth bounds how deeply tuples may nest inside a dict key.
const maxKeyDepth = 100

// hashKey maps a hashable Python value to a comparable Go key, charging its
// cost to the machine's work budget. Tuples are numbered by value through
// m.tuples (by contents) and m.tupleIDs (by identity), so that a key built
// from shared memo references costs its number of distinct tuples, not its
// expanded size; nesting deeper than maxKeyDepth is an error.
func (m *machine) hashKey(k any, depth int) (any, error) {
	switch k := k.(type) {
	case nil, bool, int64, float64:
		return k, nil
	case string:
		return k, m.charge(int64(len(k))/16, 0)
	case []byte:
		return bytesKey(k), m.charge(int64(len(k))/16, int64(len(k)))
	case pyGlobal:
		return k, nil
	case pyTuple:
		if len(k) == 0 {
			return tupleKey(0), nil
		}
		id := tupleIdent{&k[0], len(k)}
		if n, ok := m.tupleIDs[id]; ok {
			return n, nil
		}
		if depth >= maxKeyDepth {
			return nil, fmt.Errorf("dict key: tuples nested more than %d deep (the limit)", maxKeyDepth)
		}
		// The tuple's value: each element's type and key, fixed-size for
		// tuples (their numbers).
		enc := make([]byte, 0, 16*len(k))
		for _, e := range k {
			h, err := m.hashKey(e, depth+1)
			if err != nil {
				return nil, err
			}
			switch h := h.(type) {
			case nil:
				enc = append(enc, 'N')
			case bool:
				enc = append(enc, 'F')
				if h {
					enc[len(enc)-1] = 'T'
				}
			case int64:
				enc = binary.LittleEndian.AppendUint64(append(enc, 'i'), uint64(h))
			case float64:
				enc = binary.LittleEndian.AppendUint64(append(enc, 'f'), math.Float64bits(h))
			case string:
				enc = binary.LittleEndian.AppendUint64(append(enc, 's'), uint64(len(h)))
				enc = append(enc, h...)
			case bytesKey:
				enc = binary.LittleEndian.AppendUint64(append(enc, 'b'), uint64(len(h)))
				enc = append(enc, h...)
			case pyGlobal:
				enc = binary.LittleEndian.AppendUint64(append(enc, 'g'), uint64(len(h.module)))
				enc = append(append(enc, h.module...), '.')
				enc = append(enc, h.name...)
			case tupleKey:
				enc = binary.LittleEndian.AppendUint64(append(enc, 't'), uint64(h))
			}
		}
		if err := m.charge(int64(len(k))+int64(len(enc))/16, int64(len(enc))+64); err != nil {
			return nil, err
		}
		n, ok := m.tuples[string(enc)]
		if !ok {
			n = tupleKey(len(m.tuples) + 1)
			m.tuples[string(enc)] = n
		}
		m.tupleIDs[id] = n
		return n, nil
	}
	return nil, fmt.Errorf("unhashable dict key of type %s", typeName(k))
}

// dictSet sets d[k] = v.
func (m *machine) dictSet(d *pyDict, k, v any) error {
	if err := m.charge(1, 0); err != nil {
		return err
	}
	h, err := m.hashKey(k, 0)
	if err != nil {
		return err
	}
	if i, ok := d.index[h]; ok {
		d.vals[i] = v
		return nil
	}
	if err := m.charge(0, 96); err != nil {
		return err
	}
	d.index[h] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

func (d *pyDict) get(k string) (any, bool) {
	i, ok := d.index[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// quote quotes a string from a file for an error message, cut after 96
// bytes so that messages stay readable whatever the file holds.
func quote(s string) string {
	const n = 96
	if len(s) <= n {
		return strconv.Quote(s)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// plain returns a name from a file (an archive member) as it is when it is
// short and needs no escaping, else quoted and cut.
func plain(s string) string {
	if len(s) <= 96 && strconv.Quote(s) == `"`+s+`"` {
		return s
	}
	return quote(s)
}

// short formats a value from a file for an error message: scalars as
// Python prints them, strings quoted and cut, anything else by type.
func short(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool, int64, float64:
		return fmt.Sprint(v)
	case string:
		return quote(v)
	}
	return "a " + typeName(v)
}

// dims formats a size or stride from a file, cut after 8 dimensions.
func dims(d []int64) string {
	if len(d) <= 8 {
		return fmt.Sprint(d)
	}
	return strings.TrimSuffix(fmt.Sprint(d[:8]), "]") + fmt.Sprintf(" … (%d dimensions)]", len(d))
}

// typeName names a value's Python type for error messages.
func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return v.module + "." + v.name
	case *pyStorage:
		return "torch." + v.typeName
	case *pyTensor:
		return "torch.Tensor"
	}
	return fmt.Sprintf("%T", v)
}

// storageTypes maps torch.*Storage classes to element types.
var storageTypes = map[string]safetensors.DType{
	"FloatStorage":    safetensors.DTypeF32,
	"HalfStorage":     safetensors.DTypeF16,
	"BFloat16Storage": safetensors.DTypeBF16,
	"DoubleStorage":   safetensors.DTypeF64,
	"LongStorage":     safetensors.DTypeI64,
	"IntStorage":      safetensors.DTypeI32,
	"ShortStorage":    safetensors.DTypeI16,
	"CharStorage":     safetensors.DTypeI8,
	"ByteStorage":     safetensors.DTypeU8,
	"BoolStorage":     safetensors.DTypeBool,
}

// allowedGlobals lists every module attribute a checkpoint may name.
var allowedGlobals = map[string]bool{
	"collections.OrderedDict":                    true,
	"torch._utils._rebuild_tensor":               true,
	"torch._utils._rebuild_tensor_v2":            true,
	"torch._utils._rebuild_parameter":            true,
	"torch._utils._rebuild_parameter_with_state": true,
	"torch._tensor._rebuild_from_type_v2":        true,
	"torch.Tensor":                               true,
	"torch.nn.parameter.Parameter":               true,
	"torch.Size":                                 true,
	"_codecs.encode":                             true,
	"builtins.set":                               true,
	"builtins.frozenset":                         true,
	"__builtin__.set":                            true,
}

func resolveGlobal(module, name string) (pyGlobal, error) {
	full := module + "." + name
	if allowedGlobals[full] {
		return pyGlobal{module, name}, nil
	}
	if module == "torch" {
		if _, ok := storageTypes[name]; ok {
			return pyGlobal{module, name}, nil
		}
	}
	return pyGlobal{}, fmt.Errorf("global %s is not allowed (not a tensor checkpoint type)", full)
}

// Budgets of one pickle (see the package documentation). A state dict's
// pickle costs about one unit of work and a few dozen bytes of objects per
// byte of pickle; hostile pickles (memo references expanded, containers
// copied again and again, keys nested millions deep) are stopped by these
// limits with an error naming them, in bounded time and memory.
const (
	// MaxPickleSize is the largest data.pkl member read, in bytes.
	MaxPickleSize = 64 << 20
	// MaxPickleWork bounds the pickle machine's work: one unit per opcode,
	// per container element created, copied or hashed, and per 16 bytes of
	// a string hashed.
	MaxPickleWork = 1 << 27
	// MaxPickleMemory bounds the bytes of the objects a pickle builds
	// (stack and memo slots, strings, containers, dict entries).
	MaxPickleMemory = 256 << 20
)

// machine is one run of the pickle VM.
type machine struct {
	data      []byte
	pos       int
	stack     []any
	marks     []int
	memo      map[int64]any
	storages  map[string]*pyStorage
	tuples    map[string]tupleKey     // dict-key tuples by value
	tupleIDs  map[tupleIdent]tupleKey // ... and by identity
	work      int64                   // units of work done (MaxPickleWork)
	mem       int64                   // bytes of objects built (MaxPickleMemory)
	high      int                     // the stack's high-water mark
	highMarks int                     // the marks' high-water mark
}

// charge adds work units and bytes of objects to the machine's budgets.
func (m *machine) charge(work, mem int64) error {
	m.work += work
	m.mem += mem
	switch {
	case m.work > MaxPickleWork:
		return fmt.Errorf("pickle needs more than %d units of work (the limit, MaxPickleWork)", int64(MaxPickleWork))
	case m.mem > MaxPickleMemory:
		return fmt.Errorf("pickle builds more than %d bytes of objects (the limit, MaxPickleMemory)", int64(MaxPickleMemory))
	}
	return nil
}

type pickleError struct {
	pos int
	op  string
	msg string
}

func (e *pickleError) Error() string {
	if e.op == "" {
		return fmt.Sprintf("pickle offset %d: %s", e.pos, e.msg)
	}
	return fmt.Sprintf("pickle offset %d: %s: %s", e.pos, e.op, e.msg)
}

// unpickle runs data through the VM and returns the pickled object. Storages
// named by persistent ids are returned as *pyStorage values (not loaded).
func unpickle(data []byte) (any, error) {
	m := &machine{data: data, memo: make(map[int64]any), storages: make(map[string]*pyStorage),
		tuples: make(map[string]tupleKey), tupleIDs: make(map[tupleIdent]tupleKey)}
	return m.run()
}

var opNames = map[byte]string{
	0x80: "PROTO", 0x95: "FRAME", '.': "STOP", '(': "MARK", '0': "POP", '1': "POP_MARK", '2': "DUP",
	'N': "NONE", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 'J': "BININT", 'K': "BININT1", 'M': "BININT2",
	0x8a: "LONG1", 0x8b: "LONG4", 'I': "INT", 'L': "LONG", 'G': "BINFLOAT", 'F': "FLOAT",
	'X': "BINUNICODE", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 'V': "UNICODE",
	'T': "BINSTRING", 'U': "SHORT_BINSTRING", 'S': "STRING",
	'B': "BINBYTES", 'C': "SHORT_BINBYTES", 0x8e: "BINBYTES8", 0x96: "BYTEARRAY8",
	'}': "EMPTY_DICT", 'd': "DICT", ']': "EMPTY_LIST", 'l': "LIST", ')': "EMPTY_TUPLE", 't': "TUPLE",
	0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
	'a': "APPEND", 'e': "APPENDS", 's': "SETITEM", 'u': "SETITEMS",
	'c': "GLOBAL", 0x93: "STACK_GLOBAL", 'R': "REDUCE", 'b': "BUILD", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX",
	'Q': "BINPERSID", 'P': "PERSID", 'h': "BINGET", 'j': "LONG_BINGET", 'g': "GET",
	'q': "BINPUT", 'r': "LONG_BINPUT", 'p': "PUT", 0x94: "MEMOIZE",
}

func (m *machine) run() (any, error) {
	for {
		if m.pos >= len(m.data) {
			return nil, &pickleError{pos: m.pos, msg: "truncated: no STOP opcode"}
		}
		start := m.pos
		op := m.data[m.pos]
		m.pos++
		err := m.charge(1, 0)
		done := false
		if err == nil {
			done, err = m.step(op)
		}
		if err != nil {
			name := opNames[op]
			if name == "" {
				name = fmt.Sprintf("opcode 0x%02x", op)
			}
			return nil, &pickleError{pos: start, op: name, msg: err.Error()}
		}
		if done {
			if len(m.stack) != 1 {
				return nil, &pickleError{pos: start, op: "STOP", msg: fmt.Sprintf("stack holds %d values, want 1", len(m.stack))}
			}
			return m.stack[0], nil
		}
	}
}

func (m *machine) read(n int) ([]byte, error) {
	if n < 0 || n > len(m.data)-m.pos {
		return nil, fmt.Errorf("needs %d bytes, %d left", n, len(m.data)-m.pos)
	}
	b := m.data[m.pos : m.pos+n]
	m.pos += n
	return b, nil
}

func (m *machine) readLine() (string, error) {
	for i := m.pos; i < len(m.data); i++ {
		if m.data[i] == '\n' {
			if err := m.charge(int64(i-m.pos)/64, int64(i-m.pos)+16); err != nil {
				return "", err
			}
			s := string(m.data[m.pos:i])
			m.pos = i + 1
			return s, nil
		}
	}
	return "", fmt.Errorf("unterminated line")
}

// readLen reads an n-byte little-endian length.
func (m *machine) readLen(n int) (int, error) {
	b, err := m.read(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if v > uint64(len(m.data)) {
		return 0, fmt.Errorf("length %d past end of data", v)
	}
	return int(v), nil
}

func (m *machine) push(v any) error {
	if len(m.stack) >= m.high {
		// A new stack slot (and, amortised, the copy when the stack grows).
		if err := m.charge(0, 32); err != nil {
			return err
		}
		m.high = len(m.stack) + 1
	}
	m.stack = append(m.stack, v)
	return nil
}

func (m *machine) pop() (any, error) {
	if len(m.stack) == 0 || (len(m.marks) > 0 && len(m.stack) <= m.marks[len(m.marks)-1]) {
		return nil, fmt.Errorf("stack underflow")
	}
	v := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

func (m *machine) top() (any, error) {
	if len(m.stack) == 0 || (len(m.marks) > 0 && len(m.stack) <= m.marks[len(m.marks)-1]) {
		return nil, fmt.Errorf("stack underflow")
	}
	return m.stack[len(m.stack)-1], nil
}

// popMark pops everything above the last MARK.
func (m *machine) popMark() ([]any, error) {
	if len(m.marks) == 0 {
		return nil, fmt.Errorf("no MARK on the stack")
	}
	k := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	if err := m.charge(int64(len(m.stack)-k), 16*int64(len(m.stack)-k)); err != nil {
		return nil, err
	}
	items := append([]any(nil), m.stack[k:]...)
	m.stack = m.stack[:k]
	return items, nil
}

func (m *machine) memoPut(idx int64) error {
	v, err := m.top()
	if err != nil {
		return err
	}
	if _, ok := m.memo[idx]; !ok {
		if err := m.charge(0, 64); err != nil {
			return err
		}
	}
	m.memo[idx] = v
	return nil
}

func (m *machine) memoGet(idx int64) error {
	v, ok := m.memo[idx]
	if !ok {
		return fmt.Errorf("memo key %d missing", idx)
	}
	return m.push(v)
}

func (m *machine) step(op byte) (bool, error) {
	switch op {
	case 0x80: // PROTO
		b, err := m.read(1)
		if err != nil {
			return false, err
		}
		if b[0] > 5 {
			return false, fmt.Errorf("unsupported protocol %d", b[0])
		}
	case 0x95: // FRAME: a length hint only
		_, err := m.read(8)
		return false, err
	case '.':
		return true, nil
	case '(':
		if len(m.marks) >= m.highMarks {
			if err := m.charge(0, 16); err != nil {
				return false, err
			}
			m.highMarks = len(m.marks) + 1
		}
		m.marks = append(m.marks, len(m.stack))
	case '0':
		_, err := m.pop()
		return false, err
	case '1':
		_, err := m.popMark()
		return false, err
	case '2':
		v, err := m.top()
		if err != nil {
			return false, err
		}
		return false, m.push(v)
	case 'N':
		return false, m.push(nil)
	case 0x88:
		return false, m.push(true)
	case 0x89:
		return false, m.push(false)
	case 'J':
		b, err := m.read(4)
		if err != nil {
			return false, err
		}
		return false, m.push(int64(int32(binary.LittleEndian.Uint32(b))))
	case 'K':
		b, err := m.read(1)
		if err != nil {
			return false, err
		}
		return false, m.push(int64(b[0]))
	case 'M':
		b, err := m.read(2)
		if err != nil {
			return false, err
		}
		return false, m.push(int64(binary.LittleEndian.Uint16(b)))
	case 0x8a, 0x8b: // LONG1, LONG4
		var n int
		var err error
		if op == 0x8a {
			n, err = m.readLen(1)
		} else {
			n, err = m.readLen(4)
		}
		if err != nil {
			return false, err
		}
		b, err := m.read(n)
		if err != nil {
			return false, err
		}
		v, err := decodeLong(b)
		if err != nil {
			return false, err
		}
		return false, m.push(v)
	case 'I', 'L': // INT, LONG (text)
		s, err := m.readLine()
		if err != nil {
			return false, err
		}
		if op == 'I' && (s == "00" || s == "01") {
			return false, m.push(s == "01")
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(s, "L"), 10, 64)
		if err != nil {
			return false, fmt.Errorf("bad integer %s", quote(s))
		}
		return false, m.push(v)
	case 'G':
		b, err := m.read(8)
		if err != nil {
			return false, err
		}
		return false, m.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case 'F':
		s, err := m.readLine()
		if err != nil {
			return false, err
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return false, fmt.Errorf("bad float %s", quote(s))
		}
		return false, m.push(v)
	case 'X', 0x8c, 0x8d, 'T', 'U', 'B', 'C', 0x8e, 0x96:
		var n int
		var err error
		switch op {
		case 0x8c, 'U', 'C':
			n, err = m.readLen(1)
		case 0x8d, 0x8e, 0x96:
			n, err = m.readLen(8)
		default:
			n, err = m.readLen(4)
		}
		if err != nil {
			return false, err
		}
		b, err := m.read(n)
		if err != nil {
			return false, err
		}
		if err := m.charge(int64(n)/64, int64(n)+16); err != nil {
			return false, err
		}
		if op == 'B' || op == 'C' || op == 0x8e || op == 0x96 {
			return false, m.push(append([]byte(nil), b...))
		}
		return false, m.push(string(b))
	case 'V', 'S': // UNICODE, STRING (text, protocol 0)
		s, err := m.readLine()
		if err != nil {
			return false, err
		}
		if op == 'S' {
			u, err := strconv.Unquote(s)
			if err != nil {
				if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
					u = s[1 : len(s)-1]
				} else {
					return false, fmt.Errorf("bad string %s", quote(s))
				}
			}
			s = u
		}
		return false, m.push(s)
	case '}':
		return false, m.push(newDict())
	case ']':
		return false, m.push(&pyList{})
	case ')':
		return false, m.push(pyTuple{})
	case 0x8f: // EMPTY_SET: kept as a list
		return false, m.push(&pyList{})
	case 'd', 'l', 't', 0x91: // DICT, LIST, TUPLE, FROZENSET
		items, err := m.popMark()
		if err != nil {
			return false, err
		}
		switch op {
		case 'd':
			if len(items)%2 != 0 {
				return false, fmt.Errorf("odd number of items (%d)", len(items))
			}
			d := newDict()
			for i := 0; i < len(items); i += 2 {
				if err := m.dictSet(d, items[i], items[i+1]); err != nil {
					return false, err
				}
			}
			return false, m.push(d)
		case 'l', 0x91:
			return false, m.push(&pyList{items: items})
		}
		return false, m.push(pyTuple(items))
	case 0x85, 0x86, 0x87:
		n := int(op-0x85) + 1
		if len(m.stack) < n || (len(m.marks) > 0 && len(m.stack)-n < m.marks[len(m.marks)-1]) {
			return false, fmt.Errorf("stack underflow")
		}
		if err := m.charge(int64(n), 16*int64(n)+24); err != nil {
			return false, err
		}
		t := append(pyTuple(nil), m.stack[len(m.stack)-n:]...)
		m.stack = m.stack[:len(m.stack)-n]
		return false, m.push(t)
	case 'a':
		v, err := m.pop()
		if err != nil {
			return false, err
		}
		l, err := m.top()
		if err != nil {
			return false, err
		}
		pl, ok := l.(*pyList)
		if !ok {
			return false, fmt.Errorf("append to %s", typeName(l))
		}
		if err := m.charge(1, 32); err != nil {
			return false, err
		}
		pl.items = append(pl.items, v)
	case 'e', 0x90: // APPENDS, ADDITEMS
		items, err := m.popMark()
		if err != nil {
			return false, err
		}
		l, err := m.top()
		if err != nil {
			return false, err
		}
		pl, ok := l.(*pyList)
		if !ok {
			return false, fmt.Errorf("append to %s", typeName(l))
		}
		if err := m.charge(int64(len(items)), 32*int64(len(items))); err != nil {
			return false, err
		}
		pl.items = append(pl.items, items...)
	case 's':
		v, err := m.pop()
		if err != nil {
			return false, err
		}
		k, err := m.pop()
		if err != nil {
			return false, err
		}
		d, err := m.top()
		if err != nil {
			return false, err
		}
		pd, ok := d.(*pyDict)
		if !ok {
			return false, fmt.Errorf("set item on %s", typeName(d))
		}
		return false, m.dictSet(pd, k, v)
	case 'u':
		items, err := m.popMark()
		if err != nil {
			return false, err
		}
		if len(items)%2 != 0 {
			return false, fmt.Errorf("odd number of items (%d)", len(items))
		}
		d, err := m.top()
		if err != nil {
			return false, err
		}
		pd, ok := d.(*pyDict)
		if !ok {
			return false, fmt.Errorf("set items on %s", typeName(d))
		}
		for i := 0; i < len(items); i += 2 {
			if err := m.dictSet(pd, items[i], items[i+1]); err != nil {
				return false, err
			}
		}
	case 'c':
		module, err := m.readLine()
		if err != nil {
			return false, err
		}
		name, err := m.readLine()
		if err != nil {
			return false, err
		}
		g, err := resolveGlobal(module, name)
		if err != nil {
			return false, err
		}
		return false, m.push(g)
	case 0x93:
		nv, err := m.pop()
		if err != nil {
			return false, err
		}
		mv, err := m.pop()
		if err != nil {
			return false, err
		}
		module, ok1 := mv.(string)
		name, ok2 := nv.(string)
		if !ok1 || !ok2 {
			return false, fmt.Errorf("module and name must be strings, got %s and %s", typeName(mv), typeName(nv))
		}
		g, err := resolveGlobal(module, name)
		if err != nil {
			return false, err
		}
		return false, m.push(g)
	case 'R', 0x81: // REDUCE, NEWOBJ
		args, err := m.pop()
		if err != nil {
			return false, err
		}
		fn, err := m.pop()
		if err != nil {
			return false, err
		}
		t, ok := args.(pyTuple)
		if !ok {
			return false, fmt.Errorf("arguments are a %s, not a tuple", typeName(args))
		}
		v, err := m.call(fn, t, 0)
		if err != nil {
			return false, err
		}
		return false, m.push(v)
	case 'b':
		state, err := m.pop()
		if err != nil {
			return false, err
		}
		obj, err := m.top()
		if err != nil {
			return false, err
		}
		return false, build(obj, state)
	case 'Q':
		pid, err := m.pop()
		if err != nil {
			return false, err
		}
		s, err := m.persistentLoad(pid)
		if err != nil {
			return false, err
		}
		return false, m.push(s)
	case 'P':
		return false, fmt.Errorf("text persistent ids are not used by torch.save")
	case 'h':
		b, err := m.read(1)
		if err != nil {
			return false, err
		}
		return false, m.memoGet(int64(b[0]))
	case 'j':
		b, err := m.read(4)
		if err != nil {
			return false, err
		}
		return false, m.memoGet(int64(binary.LittleEndian.Uint32(b)))
	case 'g':
		s, err := m.readLine()
		if err != nil {
			return false, err
		}
		idx, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return false, fmt.Errorf("bad memo key %s", quote(s))
		}
		return false, m.memoGet(idx)
	case 'q':
		b, err := m.read(1)
		if err != nil {
			return false, err
		}
		return false, m.memoPut(int64(b[0]))
	case 'r':
		b, err := m.read(4)
		if err != nil {
			return false, err
		}
		return false, m.memoPut(int64(binary.LittleEndian.Uint32(b)))
	case 'p':
		s, err := m.readLine()
		if err != nil {
			return false, err
		}
		idx, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return false, fmt.Errorf("bad memo key %s", quote(s))
		}
		return false, m.memoPut(idx)
	case 0x94:
		return false, m.memoPut(int64(len(m.memo)))
	default:
		return false, fmt.Errorf("unsupported opcode")
	}
	return false, nil
}

// decodeLong decodes a little-endian two's-complement integer of up to 8 bytes.
func decodeLong(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > 8 {
		// Accept sign-extension bytes beyond 8, reject real magnitude.
		ext := byte(0)
		if b[7]&0x80 != 0 {
			ext = 0xff
		}
		for _, c := range b[8:] {
			if c != ext {
				return 0, fmt.Errorf("integer of %d bytes does not fit in 64 bits", len(b))
			}
		}
		b = b[:8]
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if n := uint(len(b)) * 8; n < 64 && b[len(b)-1]&0x80 != 0 {
		v |= ^uint64(0) << n // sign-extend
	}
	return int64(v), nil
}

// maxCallDepth bounds nested _rebuild_from_type_v2 calls.
const maxCallDepth = 16

// call applies a whitelisted callable to args; depth counts the calls it is
// nested in.
func (m *machine) call(fn any, args pyTuple, depth int) (any, error) {
	if depth > maxCallDepth {
		return nil, fmt.Errorf("calls nested more than %d deep (the limit)", maxCallDepth)
	}
	g, ok := fn.(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("cannot call a %s", typeName(fn))
	}
	full := g.module + "." + g.name
	switch full {
	case "collections.OrderedDict":
		d := newDict()
		if len(args) == 1 {
			if l, ok := args[0].(*pyList); ok {
				if err := m.charge(int64(len(l.items)), 0); err != nil {
					return nil, err
				}
				for _, it := range l.items {
					kv, ok := it.(pyTuple)
					if !ok || len(kv) != 2 {
						return nil, fmt.Errorf("OrderedDict item is a %s, not a pair", typeName(it))
					}
					if err := m.dictSet(d, kv[0], kv[1]); err != nil {
						return nil, err
					}
				}
				return d, nil
			}
		}
		if len(args) != 0 {
			return nil, fmt.Errorf("OrderedDict with %d arguments", len(args))
		}
		return d, nil
	case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
		if full == "torch._utils._rebuild_tensor" && len(args) != 4 || full != "torch._utils._rebuild_tensor" && (len(args) < 6 || len(args) > 7) {
			return nil, fmt.Errorf("%s with %d arguments", g.name, len(args))
		}
		return rebuildTensor(args)
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		if len(args) < 3 {
			return nil, fmt.Errorf("%s with %d arguments", g.name, len(args))
		}
		t, ok := args[0].(*pyTensor)
		if !ok {
			return nil, fmt.Errorf("%s of a %s", g.name, typeName(args[0]))
		}
		return t, nil
	case "torch._tensor._rebuild_from_type_v2":
		// (func, new_type, args, state): rebuild with func(*args), then the
		// subclass and its state do not matter for the values.
		if len(args) != 4 {
			return nil, fmt.Errorf("%s with %d arguments", g.name, len(args))
		}
		inner, ok := args[2].(pyTuple)
		if !ok {
			return nil, fmt.Errorf("%s: arguments are a %s", g.name, typeName(args[2]))
		}
		return m.call(args[0], inner, depth+1)
	case "torch.Size":
		if len(args) == 0 {
			return pyTuple{}, nil
		}
		if t, ok := args[0].(pyTuple); ok && len(args) == 1 {
			return t, nil
		}
		return nil, fmt.Errorf("torch.Size of %d arguments", len(args))
	case "_codecs.encode":
		if len(args) < 1 {
			return nil, fmt.Errorf("encode with no arguments")
		}
		s, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("encode of a %s", typeName(args[0]))
		}
		if err := m.charge(int64(len(s))/16, int64(len(s))+16); err != nil {
			return nil, err
		}
		// latin-1: each code point below 256 becomes one byte.
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 255 {
				return nil, fmt.Errorf("encode: %q is not latin-1", r)
			}
			b = append(b, byte(r))
		}
		return b, nil
	case "builtins.set", "builtins.frozenset", "__builtin__.set":
		// The set shares the list's elements (neither changes them; an
		// append to either reallocates): set(L) costs the same for any L.
		l := &pyList{}
		if len(args) == 1 {
			if in, ok := args[0].(*pyList); ok {
				l.items = in.items[:len(in.items):len(in.items)]
			}
		}
		return l, m.charge(1, 48)
	}
	return nil, fmt.Errorf("cannot call %s", full)
}

// build applies a BUILD state. Attributes of dicts (an OrderedDict's
// _metadata) and tensors (hooks, subclass state) do not affect the values.
func build(obj, state any) error {
	switch obj.(type) {
	case *pyDict, *pyTensor, *pyList:
		return nil
	}
	return fmt.Errorf("cannot set state on a %s", typeName(obj))
}

func toInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func toInts(v any) ([]int64, bool) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, false
	}
	out := make([]int64, len(t))
	for i, e := range t {
		n, ok := toInt(e)
		if !ok {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// rebuildTensor checks _rebuild_tensor_v2's (storage, storage_offset, size,
// stride, ...) arguments; bounds against the storage are checked when the
// tensor is materialised.
func rebuildTensor(args pyTuple) (*pyTensor, error) {
	s, ok := args[0].(*pyStorage)
	if !ok {
		return nil, fmt.Errorf("storage argument is a %s", typeName(args[0]))
	}
	off, ok := toInt(args[1])
	if !ok {
		return nil, fmt.Errorf("storage_offset is a %s", typeName(args[1]))
	}
	size, ok := toInts(args[2])
	if !ok {
		return nil, fmt.Errorf("size is a %s, not a tuple of ints", typeName(args[2]))
	}
	stride, ok := toInts(args[3])
	if !ok {
		return nil, fmt.Errorf("stride is a %s, not a tuple of ints", typeName(args[3]))
	}
	return &pyTensor{storage: s, offset: off, size: size, stride: stride}, nil
}

// persistentLoad turns ('storage', torch.XStorage, key, location, numel) into
// a storage reference. Tensors naming the same key share one storage.
func (m *machine) persistentLoad(pid any) (*pyStorage, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("persistent id is a %s, want ('storage', type, key, location, numel)", typeName(pid))
	}
	if kind, _ := t[0].(string); kind != "storage" {
		return nil, fmt.Errorf("persistent id kind %s, want 'storage'", short(t[0]))
	}
	g, ok := t[1].(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("storage type is a %s", typeName(t[1]))
	}
	dt, ok := storageTypes[g.name]
	if !ok || g.module != "torch" {
		return nil, fmt.Errorf("unsupported storage type %s.%s", g.module, g.name)
	}
	key, ok := t[2].(string)
	if !ok {
		return nil, fmt.Errorf("storage key is a %s", typeName(t[2]))
	}
	loc, _ := t[3].(string)
	numel, ok := toInt(t[4])
	if !ok || numel < 0 {
		return nil, fmt.Errorf("storage %s: element count %s", quote(key), short(t[4]))
	}
	if s, ok := m.storages[key]; ok {
		if s.dtype != dt || s.numel != numel {
			return nil, fmt.Errorf("storage %s named as %s[%d] and %s[%d]", quote(key), s.typeName, s.numel, g.name, numel)
		}
		return s, nil
	}
	s := &pyStorage{dtype: dt, typeName: g.name, key: key, location: loc, numel: numel}
	m.storages[key] = s
	return s, nil
}
