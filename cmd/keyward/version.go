package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
)

// Set at build time (scripts/npm-pack.sh, the Dockerfile) with
// -ldflags "-X main.version=… -X main.commit=… -X main.date=…". Without
// them the module's build information is read: the version go install
// stamps, the commit and time of the checkout go build stamps.
var (
	version = ""
	commit  = ""
	date    = ""
)

// buildInfo is what keyward version prints.
type buildInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Date    string `json:"date,omitempty"`
	// Modified is set for a build of a checkout with uncommitted changes.
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: date, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

// versionString is the version alone, for reports and logs.
func versionString() string { return readBuildInfo().Version }

func versionCmd(e env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b := readBuildInfo()
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(b)
			}
			line := "keyward " + b.Version
			if b.Commit != "" {
				c := b.Commit
				if len(c) > 12 {
					c = c[:12]
				}
				if b.Modified {
					c += "+dirty"
				}
				line += " (" + c
				if b.Date != "" {
					line += ", " + b.Date
				}
				line += ")"
			}
			fmt.Fprintf(e.stdout, "%s %s %s\n", line, b.Go, b.Platform)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

// healthCmd checks a running keyward's /healthz: the container image's
// HEALTHCHECK (the image has no shell or curl).
func healthCmd(e env) *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Exit 0 when a running keyward answers /healthz (for container health checks)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if url == "" {
				url = e.getenv("KEYWARD_HEALTH_URL")
			}
			if url == "" {
				url = "http://127.0.0.1:8080/healthz"
			}
			cl := http.Client{Timeout: timeout}
			resp, err := cl.Get(url)
			if err != nil {
				return fmt.Errorf("health: %w", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("health: %s answered %s", url, resp.Status)
			}
			fmt.Fprintln(e.stdout, "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "the health URL (default $KEYWARD_HEALTH_URL or http://127.0.0.1:8080/healthz)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait")
	return cmd
}
