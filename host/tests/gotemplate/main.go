// Reference renderer for cortado's template differential test (host/tests/go_template_diff.rs):
// Go's own text/template with ecspresso's template functions stubbed exactly as the Rust side
// stubs them. Reads a JSON array of templates on stdin and writes a JSON array of results.
// Standard library only.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"
)

// The fixed environment both sides read.
var env = map[string]string{"TAG": "v1.2", "EMPTY": "", "JSON": `{"a":"<b>&"}`, "NUM": "42"}

type result struct {
	Out string `json:"out"`
	Err bool   `json:"err"`
	Msg string `json:"msg,omitempty"`
}

var funcs = template.FuncMap{
	// kayac/go-config's env: the first set, non-empty variable, else the last key itself.
	"env": func(keys ...string) string {
		v := ""
		for _, k := range keys {
			if e := env[k]; e != "" {
				return e
			}
			v = k
		}
		return v
	},
	"must_env": func(key string) (string, error) {
		if v, ok := env[key]; ok {
			return v, nil
		}
		return "", fmt.Errorf("environment variable %s is not set", key)
	},
	"json_escape": func(s string) string {
		b, _ := json.Marshal(s)
		return string(b[1 : len(b)-1])
	},
	// Plugin functions, stubbed: deterministic results from their arguments.
	"tfstate": func(addr string) string { return "tf:" + addr },
	"ssm":     func(name string) string { return "ssm:" + name },
	"list":    func(items ...interface{}) []interface{} { return items },
	"dict": func(kv ...string) map[string]interface{} {
		m := map[string]interface{}{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	},
}

func render(src string) (r result) {
	defer func() {
		if p := recover(); p != nil {
			r = result{Err: true, Msg: fmt.Sprint("panic: ", p)}
		}
	}()
	t, err := template.New("t").Funcs(funcs).Parse(src)
	if err != nil {
		return result{Err: true, Msg: err.Error()}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, nil); err != nil {
		return result{Err: true, Msg: err.Error()}
	}
	return result{Out: buf.String()}
}

func main() {
	var templates []string
	if err := json.NewDecoder(os.Stdin).Decode(&templates); err != nil {
		fmt.Fprintln(os.Stderr, "reading templates:", err)
		os.Exit(2)
	}
	out := make([]result, len(templates))
	for i, src := range templates {
		out[i] = render(src)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "writing results:", err)
		os.Exit(2)
	}
}
