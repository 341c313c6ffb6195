package archive

import (
	"bytes"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

//go:embed web/index.html web/reports.js web/report.css
var shellFS embed.FS

// Reports serves the reports over HTTP: /api/reports/{day|week|month}/{period}
// as JSON, or .csv, .html (or ?format=), for supervisors only; and /reports/,
// (?part=main: only the report's element), the page supervisors open in a browser (it logs in like the desk and shows
// the HTML report, ready to print).
type Reports struct {
	Store *Store
	// Supervisor answers 401/403 unless the request is a supervisor's
	// (agentdesk.Server.Supervisor).
	Supervisor func(w http.ResponseWriter, r *http.Request) (string, bool)
	Targets    map[string]time.Duration
	Logger     *zap.Logger
}

// Register adds the routes to mux.
func (h *Reports) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/reports/{kind}/{period}", h.serve)
	sub, _ := fs.Sub(shellFS, "web")
	files := http.FileServerFS(sub)
	mux.Handle("GET /reports/", http.StripPrefix("/reports/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'; "+
			"form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		if r.URL.Path != "" && r.URL.Path != "reports.js" && r.URL.Path != "report.css" {
			writeError(w, http.StatusNotFound, "not_found", "no such page")
			return
		}
		files.ServeHTTP(w, r)
	})))
	mux.HandleFunc("GET /reports", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/reports/", http.StatusMovedPermanently)
	})
}

func (h *Reports) serve(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.Supervisor(w, r); !ok {
		return
	}
	if h.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "no_archive",
			"reports need the archive: set database.url (LIANXIN_DATABASE_URL)")
		return
	}
	name, format := r.PathValue("period"), r.URL.Query().Get("format")
	for _, ext := range []string{"json", "csv", "html"} {
		if base, ok := strings.CutSuffix(name, "."+ext); ok {
			name, format = base, ext
		}
	}
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" && format != "html" {
		writeError(w, http.StatusBadRequest, "bad_format", "format: want json, csv or html")
		return
	}
	p, err := ParsePeriod(r.PathValue("kind"), name)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_period", err.Error())
		return
	}
	rep, err := h.Store.Compute(r.Context(), p, h.Targets)
	if err != nil {
		h.Logger.Warn("report failed", zap.String("period", p.Name), zap.Error(err))
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the archive does not answer now; try again")
		return
	}
	var buf bytes.Buffer
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	switch format {
	case "json":
		err = rep.WriteJSON(&buf)
		hd.Set("Content-Type", "application/json; charset=utf-8")
	case "csv":
		buf.WriteString("\uFEFF") // so that spreadsheet programs read UTF-8
		err = rep.WriteCSV(&buf)
		hd.Set("Content-Type", "text/csv; charset=utf-8")
		hd.Set("Content-Disposition", `attachment; filename="lianxin-`+p.Kind+`-`+p.Name+`.csv"`)
	case "html":
		if r.URL.Query().Get("part") == "main" {
			err = rep.WriteHTMLPart(&buf)
		} else {
			err = rep.WriteHTML(&buf)
		}
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Content-Security-Policy", ReportCSP)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "the report could not be written")
		return
	}
	_, _ = w.Write(buf.Bytes())
}

// writeError answers like the rest of the API: {"error": code, "message": …}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": msg})
}
