package tensor

// Whether an op records the graph is decided by its inputs, never by a
// process-wide switch:
//
//   - an op with an input made in an open no-grad Scope records nothing,
//     whatever its other inputs (parameters included): its output is a
//     constant of that scope;
//   - otherwise an op records its inputs, and backward, exactly when one
//     of its inputs requires a gradient.
//
// Two goroutines may therefore run the same model at once, one training
// (its inputs lead to parameters that require gradients) and one serving
// inference in its own scope, without either deciding the other's results
// or buffer lifetimes.

// Scope is an explicit no-grad region that follows the data rather than
// the goroutine: Use puts a tensor into it, and every op reading a tensor
// of the scope produces another one, with no graph recorded, until End.
// Afterwards the tensors it made are plain constants (no gradient, no
// history), which later ops treat like any tensor made with New.
//
// A scope belongs to the goroutine that made it until End: other
// goroutines may read its tensors (run ops on them) but must not end it.
// Scopes are cheap; make one per call.
type Scope struct {
	ended bool
}

// NoGrad returns a new, open no-grad scope:
//
//	s := tensor.NoGrad()
//	defer s.End()
//	y := layer.Forward(s.Use(x)) // records no graph, even with parameters
func NoGrad() *Scope { return &Scope{} }

// End closes the scope: tensors made in it become plain constants. End is
// idempotent; a nil scope's End does nothing.
func (s *Scope) End() {
	if s != nil {
		s.ended = true
	}
}

// Use returns x inside s: a view of x's values (no copy) that takes no
// gradient and belongs to s, or x itself when it already belongs to s or s
// is nil. It does not change x, so several goroutines may Use one tensor
// (a parameter) in their own scopes at once.
func (s *Scope) Use(x *Tensor) *Tensor {
	if s == nil || x.scope == s {
		return x
	}
	if s.ended {
		panic("tensor: Scope.Use after End")
	}
	x.live("Scope.Use")
	v := view(x, x.shape, 0)
	v.scope, v.requiresGrad, v.inputs = s, false, nil
	return v
}

// ScopeOf returns the open no-grad scope x was made in, or nil.
func ScopeOf(x *Tensor) *Scope {
	if x == nil || x.scope == nil || x.scope.ended {
		return nil
	}
	return x.scope
}

// InScope reports whether x was made in an open no-grad scope: ops
// reading it record nothing.
func InScope(x *Tensor) bool { return ScopeOf(x) != nil }

// scopeOf returns the open scope of the first input made in one, or nil.
func scopeOf(inputs []*Tensor) *Scope {
	for _, in := range inputs {
		if s := ScopeOf(in); s != nil {
			return s
		}
	}
	return nil
}
