// Package kubernetes holds no code: its test checks the manifests in this
// directory against the Kubernetes and Prometheus Operator API types. It is
// a module of its own so that the exporter does not depend on them.
package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	podIndexLabel = "apps.kubernetes.io/pod-index"
	configKey     = "codearts_build_exporter.yml"
)

// manifests decodes every document of every file the kustomization lists,
// strictly: an unknown or duplicate field, a wrong type or an unknown kind is
// an error.
func manifests(t *testing.T) []runtime.Object {
	t.Helper()
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Fatalf("kustomization.yaml: %s %s", k.APIVersion, k.Kind)
	}
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return f == "kustomization.yaml" })
	slices.Sort(files)
	listed := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(files, listed) {
		t.Fatalf("kustomization.yaml lists %v, the directory has %v", listed, files)
	}

	codec := strictCodec(t)

	var objs []runtime.Object
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufioReader(data))
		for n := 1; ; n++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", file, n, err)
			}
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			obj, gvk, err := codec.Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s: document %d: %v", file, n, err)
			}
			m, err := metaOf(obj)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for _, msg := range validation.IsDNS1123Subdomain(m.GetName()) {
				t.Errorf("%s: %s name %q: %s", file, gvk.Kind, m.GetName(), msg)
			}
			checkLabels(t, file, m.GetLabels())
			objs = append(objs, obj)
		}
	}
	return objs
}

// strictCodec decodes YAML into the API types of the kinds used here,
// rejecting unknown and duplicate fields.
func strictCodec(t *testing.T) *json.Serializer {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, monitoringv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	return json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
}

func TestManifestsDecodeStrictly(t *testing.T) {
	objs := manifests(t)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[fmt.Sprintf("%T", o)]++
	}
	for _, want := range []string{"*v1.StatefulSet", "*v1.Service", "*v1.Secret", "*v1.ConfigMap", "*v1.ServiceMonitor"} {
		if kinds[want] != 1 {
			t.Errorf("want exactly one %s, have %v", want, kinds)
		}
	}
}

// The strict decoder rejects what the API server would not know: a test of
// the test.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	_, _, err := strictCodec(t).Decode([]byte("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  clusterIp: None\n"), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "clusterIp") {
		t.Fatalf("a misspelt field decodes: %v", err)
	}
}

func TestStatefulSet(t *testing.T) {
	objs := manifests(t)
	sts := one[*appsv1.StatefulSet](t, objs)
	svc := one[*corev1.Service](t, objs)
	secret := one[*corev1.Secret](t, objs)
	cm := one[*corev1.ConfigMap](t, objs)
	sm := one[*monitoringv1.ServiceMonitor](t, objs)

	spec := sts.Spec
	pod := spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	args := map[string]string{}
	for _, a := range c.Args {
		k, v, ok := strings.Cut(a, "=")
		if !strings.HasPrefix(k, "--") || !ok && k != "--web.enable-lifecycle" { // a boolean flag takes no value
			t.Errorf("argument %q is not --flag=value", a)
		}
		args[k] = v
	}

	// Selector, pod labels, Service and ServiceMonitor agree.
	sel, err := metav1.LabelSelectorAsSelector(spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	podLabels := labels.Set(spec.Template.Labels)
	if !sel.Matches(podLabels) {
		t.Errorf("the StatefulSet's selector %s does not match its pods' labels %v", sel, podLabels)
	}
	if spec.ServiceName != svc.Name || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("serviceName %q: want the headless Service %q (clusterIP None, have %q)", spec.ServiceName, svc.Name, svc.Spec.ClusterIP)
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("the Service's selector %v does not match the pods' labels %v", svc.Spec.Selector, podLabels)
	}
	smSel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if !smSel.Matches(labels.Set(svc.Labels)) {
		t.Errorf("the ServiceMonitor's selector %s does not match the Service's labels %v", smSel, svc.Labels)
	}
	if len(svc.Spec.Ports) != 1 || len(c.Ports) != 1 {
		t.Fatalf("want one port on the Service and the container")
	}
	if svc.Spec.Ports[0].TargetPort.String() != c.Ports[0].Name || len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name {
		t.Errorf("ports do not line up: container %q, Service %q -> %q, ServiceMonitor %v",
			c.Ports[0].Name, svc.Spec.Ports[0].Name, svc.Spec.Ports[0].TargetPort.String(), sm.Spec.Endpoints)
	}
	if listen := args["--web.listen-address"]; !strings.HasSuffix(listen, ":"+strconv.Itoa(int(c.Ports[0].ContainerPort))) {
		t.Errorf("--web.listen-address=%s, container port %d", listen, c.Ports[0].ContainerPort)
	}
	job := ""
	for _, r := range sm.Spec.Endpoints[0].RelabelConfigs {
		if r.TargetLabel == "job" && r.Replacement != nil {
			job = *r.Replacement
		}
	}
	if job != "codearts_build" {
		t.Errorf("the ServiceMonitor sets job=%q; rules.yaml's CodeArtsExporterDown selects job=\"codearts_build\"", job)
	}

	// Shards: one per replica, the shard number from the pod ordinal.
	if spec.Replicas == nil {
		t.Fatal("replicas not set")
	}
	if total := args["--total-shards"]; total != strconv.Itoa(int(*spec.Replicas)) {
		t.Errorf("--total-shards=%s but replicas: %d", total, *spec.Replicas)
	}
	m := regexp.MustCompile(`^\$\((\w+)\)$`).FindStringSubmatch(args["--shard"])
	if m == nil {
		t.Fatalf("--shard=%q: want $(VAR) set from the pod ordinal", args["--shard"])
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	shard, ok := env[m[1]]
	if !ok || shard.ValueFrom == nil || shard.ValueFrom.FieldRef == nil ||
		shard.ValueFrom.FieldRef.FieldPath != "metadata.labels['"+podIndexLabel+"']" {
		t.Errorf("%s must come from the downward API label %s: %+v", m[1], podIndexLabel, shard)
	}

	// Credentials from the Secret, configuration from the ConfigMap.
	for _, name := range []string{"CODEARTS_ACCESS_KEY", "CODEARTS_SECRET_KEY"} {
		e, ok := env[name]
		if !ok || e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s must come from a Secret: %+v", name, e)
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		_, inData := secret.Data[ref.Key]
		_, inString := secret.StringData[ref.Key]
		if ref.Name != secret.Name || !inData && !inString {
			t.Errorf("%s refers to %s/%s, which the Secret %s does not have", name, ref.Name, ref.Key, secret.Name)
		}
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	configFile := args["--config.file"]
	cfgMount := mountOf(t, c.VolumeMounts, configFile)
	if v := volumes[cfgMount.Name]; v.ConfigMap == nil || v.ConfigMap.Name != cm.Name || !cfgMount.ReadOnly {
		t.Errorf("--config.file=%s is not on a read-only mount of the ConfigMap %s", configFile, cm.Name)
	}
	if _, ok := cm.Data[filepath.Base(configFile)]; !ok || filepath.Base(configFile) != configKey {
		t.Errorf("the ConfigMap has no key %s", filepath.Base(configFile))
	}

	// The state file on a volume of its own per replica.
	stateFile := args["--state.file"]
	if stateFile == "" {
		t.Fatal("no --state.file: counters would restart with every pod")
	}
	stateMount := mountOf(t, c.VolumeMounts, stateFile)
	if stateMount.ReadOnly {
		t.Errorf("the state volume is read-only")
	}
	claimed := false
	for _, pvc := range spec.VolumeClaimTemplates {
		if pvc.Name == stateMount.Name {
			claimed = true
			if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOnce) {
				t.Errorf("the state claim's access modes are %v", pvc.Spec.AccessModes)
			}
		}
	}
	if !claimed {
		t.Errorf("%s is on volume %q, which is not a volumeClaimTemplate (one volume per replica)", stateFile, stateMount.Name)
	}

	// Non-root, read-only root filesystem, nothing to escalate with.
	psc, csc := pod.SecurityContext, c.SecurityContext
	if psc == nil || csc == nil {
		t.Fatal("securityContext missing on the pod or the container")
	}
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("the pod must run as a non-root user")
	}
	if psc.FSGroup == nil || *psc.FSGroup != *psc.RunAsUser {
		t.Error("fsGroup must let the user write its state volume")
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Error("the root filesystem must be read-only")
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false")
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
		t.Error("capabilities must drop ALL")
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/-/ready" {
		t.Error("the readiness probe must be GET /-/ready")
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/-/healthy" {
		t.Error("the liveness probe must be GET /-/healthy")
	}
}

// mountOf returns the volume mount that holds path.
func mountOf(t *testing.T, mounts []corev1.VolumeMount, path string) corev1.VolumeMount {
	t.Helper()
	for _, m := range mounts {
		if strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return m
		}
	}
	t.Fatalf("%s is on no volume mount (the root filesystem is read-only)", path)
	return corev1.VolumeMount{}
}

func one[T runtime.Object](t *testing.T, objs []runtime.Object) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want one %T, have %d", zero, len(found))
	}
	return found[0]
}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", obj)
	}
	return m, nil
}

func checkLabels(t *testing.T, file string, l map[string]string) {
	t.Helper()
	for k, v := range l {
		for _, msg := range validation.IsQualifiedName(k) {
			t.Errorf("%s: label key %q: %s", file, k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			t.Errorf("%s: label %s value %q: %s", file, k, v, msg)
		}
	}
}

// stripComments drops comment-only lines, so that a document of nothing
// but comments is recognised as empty.
func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

func bufioReader(data []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(data)) }
