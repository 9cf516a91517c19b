package console

import (
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/web"
)

// The audit log's page: newest first, filtered by actor, organization and
// kind (audit.ParseQuery, as GET /admin/v1/audit), a page at a time.

var auditTemplate = page("audit")

// auditPageSize is how many entries the page shows at a time.
const auditPageSize = 50

type auditPage struct {
	Entries          []*store.AuditEntry
	Actor, Org, Kind string
	Kinds            []string
	Next             string // the next page's link, "" for none
}

// AuditLog serves GET /console/audit.
func (c *Console) AuditLog(rq *request) error {
	v := rq.r.URL.Query()
	for name, vs := range v { // the form sends empty filters: no filter
		if len(vs) == 1 && vs[0] == "" {
			v.Del(name)
		}
	}
	q, err := audit.ParseQuery(v)
	if err != nil {
		text := "console.err.filters_text"
		if oe, ok := err.(*oauth.Error); ok {
			text = rq.describe(oe)
		}
		return web.Error(http.StatusBadRequest, "console.err.filters", text)
	}
	if v.Get("limit") == "" {
		q.Limit = auditPageSize
	}
	limit := q.Limit
	q.Limit++
	es, err := c.Store.QueryAudit(rq.ctx, q)
	if err != nil {
		return err
	}
	es, cursor := audit.Page(es, limit)
	p := auditPage{Entries: es, Actor: q.ActorID, Org: q.OrgID, Kind: q.Kind, Kinds: audit.Kinds}
	if cursor != "" {
		next := url.Values{}
		for _, f := range []struct{ name, v string }{{"actor", q.ActorID}, {"organization", q.OrgID}, {"kind", q.Kind}} {
			if f.v != "" {
				next.Set(f.name, f.v)
			}
		}
		next.Set("cursor", cursor)
		p.Next = "/console/audit?" + next.Encode()
	}
	return c.render(rq, http.StatusOK, auditTemplate, "audit", rq.T("console.nav.audit"), "", p)
}
