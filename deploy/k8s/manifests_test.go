// Package k8s holds edgeinfer's Kubernetes manifests; its test checks them
// against each other and against edgeinfer's own configuration parser.
package k8s

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"gopkg.in/yaml.v3"
)

// object is one Kubernetes object, loosely typed.
type object map[string]any

func (o object) kind() string { return o["kind"].(string) }
func (o object) name() string { return get[string](o, "metadata", "name") }

// get walks nested maps and lists ("0" indexes a list).
func get[T any](v any, path ...string) T {
	for _, p := range path {
		switch c := v.(type) {
		case map[string]any:
			v = c[p]
		case object:
			v = c[p]
		case []any:
			i := 0
			for _, r := range p {
				i = i*10 + int(r-'0')
			}
			if i >= len(c) {
				v = nil
			} else {
				v = c[i]
			}
		default:
			v = nil
		}
	}
	t, _ := v.(T)
	return t
}

func loadObjects(t *testing.T) map[string]object {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]object{}
	for _, f := range files {
		if f == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			// Into a plain map: yaml.v3 gives nested mappings the target's type.
			var m map[string]any
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if m == nil {
				continue
			}
			o := object(m)
			objs[o.kind()+"/"+o.name()] = o
		}
	}
	return objs
}

func mustObject(t *testing.T, objs map[string]object, key string) object {
	t.Helper()
	o, ok := objs[key]
	if !ok {
		t.Fatalf("no %s among the manifests", key)
	}
	return o
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	raw, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `yaml:"resources"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*.yaml")
	for _, f := range files {
		if f != "kustomization.yaml" && !slices.Contains(k.Resources, f) {
			t.Errorf("kustomization.yaml does not list %s", f)
		}
	}
}

// The ConfigMap must be a configuration edgeinfer accepts, and the pods must
// be given time to drain and hand their jobs back.
func TestConfigParsesAndShutdownFitsTheGracePeriod(t *testing.T) {
	objs := loadObjects(t)
	cm := mustObject(t, objs, "ConfigMap/edgeinfer-config")
	cfg := engine.DefaultConfig()
	if err := engine.ParseConfig("edgeinfer.yaml", []byte(get[string](cm, "data", "edgeinfer.yaml")), &cfg); err != nil {
		t.Fatalf("the ConfigMap's edgeinfer.yaml is refused: %v", err)
	}
	if !cfg.Gateway.RateLimit || cfg.Server.APIToken != "" || cfg.Gateway.Redis != "" {
		t.Fatalf("gateway %+v; the token and Redis URL belong in the environment, not the ConfigMap", cfg.Gateway)
	}
	dep := mustObject(t, objs, "Deployment/edgeinfer")
	grace := get[int](dep, "spec", "template", "spec", "terminationGracePeriodSeconds")
	if time.Duration(grace)*time.Second <= time.Duration(cfg.Server.ShutdownTimeout) {
		t.Fatalf("terminationGracePeriodSeconds %d does not exceed server.shutdown_timeout %v", grace, time.Duration(cfg.Server.ShutdownTimeout))
	}
	container := get[map[string]any](dep, "spec", "template", "spec", "containers", "0")
	args := get[[]any](container, "args")
	mounts := get[[]any](container, "volumeMounts")
	configPath := ""
	for i, a := range args {
		if a == "--config" && i+1 < len(args) {
			configPath = args[i+1].(string)
		}
	}
	mounted := false
	for _, m := range mounts {
		if get[string](m, "name") == "config" && filepath.Join(get[string](m, "mountPath"), "edgeinfer.yaml") == configPath {
			mounted = true
		}
	}
	if !mounted {
		t.Fatalf("--config %q is not where the ConfigMap is mounted (%v)", configPath, mounts)
	}
	if addr := cfg.Server.Addr; !strings.HasPrefix(addr, "0.0.0.0:") {
		t.Fatalf("server.addr %q is not reachable from the Service", addr)
	}
}

// Every replica must reach the one Redis, with its password, and hold a GPU.
func TestReplicasShareRedisAndHoldAGPU(t *testing.T) {
	objs := loadObjects(t)
	dep := mustObject(t, objs, "Deployment/edgeinfer")
	container := get[map[string]any](dep, "spec", "template", "spec", "containers", "0")
	env := map[string]map[string]any{}
	var order []string
	for _, e := range get[[]any](container, "env") {
		env[get[string](e, "name")] = e.(map[string]any)
		order = append(order, get[string](e, "name"))
	}
	for _, name := range []string{"EDGEINFER_REDIS", "EDGEINFER_API_TOKEN", "REDIS_PASSWORD"} {
		if env[name] == nil {
			t.Fatalf("the container lacks %s", name)
		}
	}
	// $(REDIS_PASSWORD) expands only if that variable is defined earlier.
	if slices.Index(order, "REDIS_PASSWORD") > slices.Index(order, "EDGEINFER_REDIS") {
		t.Fatal("REDIS_PASSWORD must come before EDGEINFER_REDIS")
	}
	raw := get[string](env["EDGEINFER_REDIS"], "value")
	if err := engine.CheckRedisURL(strings.ReplaceAll(raw, "$(REDIS_PASSWORD)", "pw")); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(strings.ReplaceAll(raw, "$(REDIS_PASSWORD)", "pw"))
	redisSvc := mustObject(t, objs, "Service/"+u.Hostname())
	if port := get[int](redisSvc, "spec", "ports", "0", "port"); u.Port() != "6379" || port != 6379 {
		t.Fatalf("EDGEINFER_REDIS port %s, Service port %d", u.Port(), port)
	}
	if get[string](env["REDIS_PASSWORD"], "valueFrom", "secretKeyRef", "name") == "" {
		t.Fatal("REDIS_PASSWORD does not come from a Secret")
	}
	if get[int](container, "resources", "limits", "nvidia.com/gpu") != 1 {
		t.Fatalf("limits %v: each replica should hold one GPU", get[map[string]any](container, "resources", "limits"))
	}
	svc := mustObject(t, objs, "Service/edgeinfer")
	if get[string](svc, "spec", "ports", "0", "targetPort") != get[string](container, "ports", "0", "name") {
		t.Fatal("the Service does not target the container's port")
	}
	if get[int](container, "ports", "0", "containerPort") != 8790 {
		t.Fatal("the container port differs from server.addr's")
	}
	for _, probe := range []string{"readinessProbe", "livenessProbe"} {
		if p := get[string](container, probe, "httpGet", "path"); p != "/healthz" {
			t.Errorf("%s on %q: with an API token only /healthz answers unauthenticated", probe, p)
		}
	}
}

// Redis must keep jobs across restarts and never evict them.
func TestRedisIsDurableAndNeverEvicts(t *testing.T) {
	objs := loadObjects(t)
	sts := mustObject(t, objs, "StatefulSet/edgeinfer-redis")
	args := get[[]any](sts, "spec", "template", "spec", "containers", "0", "args")
	flag := func(name string) string {
		for i, a := range args {
			if a == name && i+1 < len(args) {
				return args[i+1].(string)
			}
		}
		return ""
	}
	if flag("--appendonly") != "yes" || flag("--maxmemory-policy") != "noeviction" || flag("--requirepass") != "$(REDIS_PASSWORD)" {
		t.Fatalf("redis args %v: want --appendonly yes, --maxmemory-policy noeviction, --requirepass", args)
	}
	if get[string](sts, "spec", "template", "spec", "containers", "0", "volumeMounts", "0", "mountPath") != "/data" {
		t.Fatal("Redis data is not on the persistent volume")
	}
}
