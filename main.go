// Command codearts_build_exporter is being assembled; this file pins the module's dependencies until main.go lands.
package main

import (
	_ "github.com/alecthomas/kingpin/v2"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/prometheus/common/expfmt"
	_ "github.com/prometheus/common/promslog"
	_ "github.com/prometheus/common/promslog/flag"
	_ "github.com/prometheus/common/version"
	_ "github.com/prometheus/exporter-toolkit/web"
	_ "github.com/prometheus/exporter-toolkit/web/kingpinflag"
	_ "github.com/stretchr/testify/require"
	_ "golang.org/x/time/rate"
	_ "gopkg.in/yaml.v3"
)

func main() {}
