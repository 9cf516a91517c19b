package store

// Session attachment (docs/architecture.md, "Session attachment", after 10Duke's
// vocabulary): whether a client's grants outlive the browser session in
// which the user approved them.
const (
	// SessionDetached grants outlive the browser session: a TV stays signed
	// in when its owner signs out on the phone. The default.
	SessionDetached = "detached"
	// SessionAttached grants are revoked when the browser session that
	// approved them signs out (RevokeGrantsBySession).
	SessionAttached = "attached"
)

// Attached reports whether c's grants end with the approving browser session.
func (c *Client) Attached() bool { return c.SessionAttachment == SessionAttached }
