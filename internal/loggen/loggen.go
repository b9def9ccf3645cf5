// Package loggen writes deterministic synthetic CodeArts Build logs for
// benchmarks: platform and output records in the shapes of the real
// fixtures, both timestamp forms, Chinese and English action names, all four
// levels, about 3% continuation lines and a few glued records.
package loggen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

type action struct{ tag string }

var actions = []action{
	{"PRE_ENV:slave_create"}, {"代码检出:external_pre_checkout"}, {"代码检出:external_post_checkout"},
	{"Maven构建:maven_build"}, {"BUILD:build_execute"}, {"Code checkout#preCheckout"}, {"Cache Check"},
	{"npm build:npm_build"}, {"上传软件包到软件发布库:upload_artifact"}, {"Go test:go_test"},
}

var platformMsgs = []string{
	"git plugin version: 1.12.5", "[slave] resources pool message: 5559c4d79a5e41ccb0cf0b2b9143106b",
	"[slave] Find available executor node:agent_1789024043350-W79IIG7Tr8", "成功配置文件。", "创建gitcode代码访问凭证成功。",
	"plugin version is :1.3.11.28", "start run shell command", "launching task in ***/ on besd-0928-7vworkeea794fdfw",
	"launched task", "start to get result.", "run command success", "end to get result.", "aiEnable: false",
	"cache key: maven-3.9-jdk17-7f3c2a", "cache hit, restoring 412 MB", "[WARN]DEV.CB.02101217,用户名或密码为空。",
}

var platformLevels = []string{"INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "WARNING", "ERROR", "DEBUG", "INTERNAL"}

// Output lines, roughly in the mix of a Java/JS/Go/Python build.
var outputs = []string{
	"[INFO] Scanning for projects...",
	"[INFO] --- maven-compiler-plugin:3.11.0:compile (default-compile) @ order-service ---",
	"[INFO] Compiling 214 source files with javac [debug target 17] to target/classes",
	"[INFO] Tests run: 42, Failures: 0, Errors: 0, Skipped: 1, Time elapsed: 3.118 s - in com.example.OrderServiceTest",
	"[WARNING] Using platform encoding (UTF-8 actually) to copy filtered resources, i.e. build is platform dependent!",
	"[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:3.2.5:test (default-test) on project order-service",
	"[DEBUG] Using local repository at /root/.m2/repository",
	"Downloaded from huaweicloud: https://repo.huaweicloud.com/repository/maven/org/slf4j/slf4j-api/2.0.9/slf4j-api-2.0.9.jar (64 kB at 1.2 MB/s)",
	"+ npm ci --no-audit",
	"npm WARN deprecated request@2.88.2: request has been deprecated, see https://github.com/request/request/issues/3142",
	"added 1402 packages in 14s",
	"webpack 5.94.0 compiled successfully in 7421 ms",
	"+ go test ./...",
	"ok  \texample.com/polyglot/util\t0.004s",
	"--- FAIL: TestParseOrder (0.00s)",
	"=== RUN   TestParseOrder/empty_input",
	"    order_test.go:41: got 3 items, want 4",
	"2026-09-10 09:27:05 [sched] [281473752154144] [INFO] Successfully obtained local IP via UDP method: ***.***.***.5",
	"2026-09-10 09:28:01 [sched] [281473700065568] [ERROR] Failed to allocate environment: Environment allocation rejected: Unknown",
	"[2026-09-10 09:27:30][INFO][plugin.py:698] item: match[True]<Function test_gdd_smk_aclnngridsampler2dbackward>[{'level': 'P0', 'type': 'Functional', 'scene': 'smoke'}]",
	"Traceback (most recent call last):",
	"  File \"***//openlibing-pytest-executor/pytest-executor/src/scheduler/env_manager.py\", line 297, in allocate_environments",
	"RuntimeError: Environment allocation rejected: Unknown",
	"+ echo '[INFO] git clone testcase code...'",
	"[INFO] git clone testcase code...",
	" > git fetch --no-tags --force --progress --depth=1 -- https://gitcode.com/cann-dev/CANN-CI.git +refs/heads/test_smoke:refs/remotes/origin/test_smoke # timeout=120",
	"Get:3 http://ports.ubuntu.com/ubuntu-ports jammy-updates/main arm64 libpython3.10 arm64 3.10.12-1~22.04.18 [1888 kB]",
	"Unpacking libpython3.10-stdlib:arm64 (3.10.12-1~22.04.18) over (3.10.12-1~22.04.14) ...",
	"WARNING: apt does not have a stable CLI interface. Use with caution in scripts.",
	"Setting up python3.10-venv (3.10.12-1~22.04.18) ...",
	"  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current",
	"time=\"2026-10-02T06:03:52Z\" level=warning msg=\"GOFLAGS contains -mod=mod\"",
	"Checking out Revision 8db165473ae4621a98eb52f4d7d5601dd5246f58 (origin/test_smoke)",
	"",
	"编译完成，耗时 12.3 秒",
}

var continuations = []string{
	"(Reading database ... 45%", "100  633k    0  633k    0     0  7935k      0 --:--:-- --:--:-- --:--:-- 8021k",
	"\tat com.example.OrderService.parse(OrderService.java:57)", "goroutine 19 [running]:",
}

// Write writes a synthetic log of at least size bytes (it stops after the
// record that crosses size) to w. The same seed and size give the same bytes.
func Write(w io.Writer, size int64, seed uint64) (int64, error) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	bw := bufio.NewWriterSize(w, 1<<20)
	t := time.Date(2026, 9, 10, 9, 26, 22, 661e6, time.UTC)
	zone := time.FixedZone("", 8*3600)
	var n int64
	form2 := false
	cur := actions[0]
	var line []byte
	for n < size {
		t = t.Add(time.Duration(rng.IntN(400)) * time.Millisecond)
		if rng.IntN(5000) == 0 {
			form2 = !form2 // switch timestamp form now and then
		}
		if rng.IntN(200) == 0 {
			cur = actions[rng.IntN(len(actions))]
		}
		line = line[:0]
		lt := t.In(zone)
		if form2 {
			line = lt.AppendFormat(line, "[Jan 2, 2006 15:04:05.000 GMT-07:00]")
		} else {
			line = lt.AppendFormat(line, "[2006/01/02 15:04:05.000 GMT-07:00]")
		}
		switch r := rng.IntN(100); {
		case r < 30:
			line = fmt.Appendf(line, " [%s] [%s] : %s", platformLevels[rng.IntN(len(platformLevels))], cur.tag, platformMsgs[rng.IntN(len(platformMsgs))])
		case r < 32:
			line = fmt.Appendf(line, " [%s]  : [JobStatusPlugin] onStarted: j_YDkS2cnP #%d", platformLevels[rng.IntN(3)], rng.IntN(100))
		default:
			line = append(line, ' ')
			line = append(line, outputs[rng.IntN(len(outputs))]...)
		}
		if rng.IntN(400) == 0 { // glued: the next record starts on this line
			line = append(line, ' ')
		} else {
			line = append(line, '\n')
			for rng.IntN(33) == 0 { // ~3% continuation lines
				line = append(line, continuations[rng.IntN(len(continuations))]...)
				line = append(line, '\n')
			}
		}
		m, err := bw.Write(line)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}
