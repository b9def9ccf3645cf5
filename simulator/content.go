package simulator

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// gen writes the logs of one build. Its random stream is derived from
// (seed, job, build number) only, so a build's logs are the same whenever
// and in whatever order they are generated.
type gen struct {
	rng    *rand.Rand
	spec   *JobSpec
	c      *corpora
	execID string
	number int64
	pos    map[*corpus]int // replay position in each fixture corpus
}

// event is one record waiting to be written.
type event struct {
	at, ts int64
	body   string
}

// Platform markers (docs/parser.md end markers: 该步骤执行完成, This step is
// complete, Failed to complete this step).
func (g *gen) startMarker() string {
	if g.spec.English {
		return "This step is start"
	}
	return "该步骤开始执行"
}

func (g *gen) endMarker(failed bool) string {
	switch {
	case g.spec.English && failed:
		return "Failed to complete this step"
	case g.spec.English:
		return "This step is complete"
	case failed:
		return "该步骤执行失败"
	}
	return "该步骤执行完成"
}

// platform returns the body of a platform record: " [LEVEL] [TAG] : msg",
// or the job-level " [LEVEL]  : msg" when tag is empty.
func platform(level, tag, msg string) string {
	if tag == "" {
		return " [" + level + "]  : " + msg + "\n"
	}
	return " [" + level + "] [" + tag + "] : " + msg + "\n"
}

// output returns the body of a tool-output record.
func output(text string) string { return " " + text + "\n" }

// buildLogs writes the logs of every stage of a build that has a node id.
func (g *gen) buildLogs(p *plan) []*stageLog {
	logs := make([]*stageLog, len(p.stages))
	for i := range p.stages {
		sp := &p.stages[i]
		if sp.nodeID == 0 {
			continue
		}
		lb := &logBuilder{alt: g.spec.AltFormat, zone: g.spec.LogZone}
		switch {
		case sp.skipped:
			// never ran: an empty log
		case sp.name == "initial":
			g.initialLog(lb, p, sp)
		case sp.name == "final":
			g.finalLog(lb, p, sp)
		default:
			g.stepLog(lb, p, i, sp)
		}
		logs[i] = lb.finish()
	}
	return logs
}

func (g *gen) initialLog(lb *logBuilder, p *plan, sp *stagePlan) {
	t, end := sp.start, sp.finish
	tag := "PRE_ENV:slave_create"
	lb.add(t, t, platform("INFO", "", fmt.Sprintf("[JobStatusPlugin] onStarted: %s #%d", g.execID, g.number)))
	lb.add(t+2, t+2, output("Resume disabled by user, switching to high-performance, low-durability mode."))
	lb.add(t+110, t+110, platform("INFO", tag, g.startMarker()))
	lb.add(t+111, t+111, platform("INFO", tag, "[slave] resources pool message: "+g.hex(32)))
	if g.rng.IntN(2) == 0 {
		lb.add(t+113, t+113, platform("WARNING", tag, "[slave] find empty runtime, location: PRE_ENV.slave_create"))
	}
	lb.add(t+113, t+113, platform("INFO", tag, "[slave] Fixed content: No"))
	if g.spec.AltFormat {
		lb.add(t+150, t+150, platform("INTERNAL", tag, "octopus job "+g.execID+" scheduled on pool "+g.hex(8)))
	}
	lb.add(t+190, t+190, platform("DEBUG", tag, "[slave] executor labels: arch=x86_64,os=linux,flavor=8U16G"))
	lb.add(t+218, t+218, platform("INFO", tag, fmt.Sprintf("[slave] Find available executor node:agent_%d-%s", 1789000000000+g.rng.Int64N(99999999), g.base62(10))))
	lb.add(end, end, platform("INFO", tag, g.endMarker(false)))
}

func (g *gen) finalLog(lb *logBuilder, p *plan, sp *stagePlan) {
	t, end := sp.start, sp.finish
	lb.add(t, t, platform("INFO", "", fmt.Sprintf("[JobStatusPlugin] onCompleted: %s #%d", g.execID, g.number)))
	if g.spec.AltFormat {
		lb.add(t+5, t+5, output("All Tasks Status"))
		for i := 1; i < len(p.stages)-1; i++ {
			s := &p.stages[i]
			st := "success"
			switch {
			case s.skipped:
				continue
			case s.failing, s.aborting:
				st = "error"
			}
			lb.add(t+6, t+6, output("state: "+s.display+", status: "+st))
		}
	}
	word := "SUCCESS"
	switch p.outcome {
	case StatusFailed:
		word = "FAILURE"
	case StatusAborted:
		word = "ABORTED"
	}
	lb.add(end, end, output("Finished: "+word))
}

// stepLog writes the log of stage idx (stage1..N): start marker, a few
// platform lines, tool output spread over the running time, maybe an error
// spike, and the end (success marker, failure tail, or abort).
func (g *gen) stepLog(lb *logBuilder, p *plan, idx int, sp *stagePlan) {
	spec := sp.spec
	tag := spec.Tag
	start, end := sp.start, sp.finish
	lb.add(start, start, platform("INFO", tag, g.startMarker()))
	h := start + 1
	for _, body := range g.headerLines(spec) {
		lb.add(h, h, platform(body[0], tag, body[1]))
		h += int64(1 + g.rng.IntN(15))
	}

	// Tool output at uniformly spread times.
	span := end - h - 100
	if span < 1 {
		span = 1
	}
	durSec := float64(end-start) / 1000
	n := int(durSec*g.spec.RecordsPerSecond*(0.7+0.6*g.rng.Float64()) + 0.5)
	n = max(n, 2)
	// Times are drawn first and sorted; bodies are then drawn in order
	// (tools tell a story, from downloads to results; fixture windows replay
	// consecutive records).
	events := make([]event, n, n+g.spec.SpikeRecords)
	for i := range events {
		events[i].at = h + g.rng.Int64N(span)
	}
	sort.Slice(events, func(a, b int) bool { return events[a].at < events[b].at })
	for i := range events {
		events[i].body = g.toolBody(spec.Tool, i, n)
	}

	if p.spike == idx && g.spec.SpikeRecords > 0 {
		// The burst lasts 1–3 s, but never beyond the step's output window.
		dur := min(int64(1000+g.rng.IntN(2000)), span)
		t0 := h + g.rng.Int64N(max(span-dur, 1))
		for i := 0; i < g.spec.SpikeRecords; i++ {
			at := t0 + dur*int64(i)/int64(g.spec.SpikeRecords)
			events = append(events, event{at: at, body: g.errorBody(spec.Tool)})
		}
		sort.SliceStable(events, func(a, b int) bool { return events[a].at < events[b].at })
	}

	// Timestamps: the visibility time, except that now and then a record
	// carries a slightly older timestamp (real logs go backwards, see the
	// fixtures README); and now and then an output record is glued to the
	// next one on the same line.
	for i := range events {
		e := &events[i]
		e.ts = e.at
		if g.rng.IntN(100) == 0 {
			e.ts -= int64(50 + g.rng.IntN(850))
		}
		if g.rng.IntN(200) == 0 && strings.HasSuffix(e.body, "\n") && !strings.Contains(e.body[:len(e.body)-1], "\n") {
			e.body = strings.TrimSuffix(e.body, "\n") + " "
		}
	}
	for _, e := range events {
		lb.add(e.at, e.ts, e.body)
	}

	switch {
	case sp.failing:
		k := 3 + g.rng.IntN(6)
		t0 := max(end-900, lb.l.at[len(lb.l.at)-1])
		for i := 0; i < k; i++ {
			at := t0 + int64(i)*(end-50-t0)/int64(k)
			lb.add(at, at, g.errorBody(spec.Tool))
		}
		lb.add(end-40, end-40, platform("ERROR", "", "script returned exit code 1, exitMessage is: command run failed"))
		if spec.Tool == "git" {
			// The platform's own error code for a failed code pull.
			lb.add(end-10, end-10, platform("ERROR", tag, "DEV.CB.0210043 Failed to pull the code. Check the network between the build executor and the code repository."))
		}
		lb.add(end, end, platform("ERROR", tag, g.endMarker(true)))
	case sp.aborting:
		msg := "构建已被用户 ci-bot 中止"
		if g.spec.English {
			msg = "Build aborted by user ci-bot"
		}
		lb.add(end-1, end-1, platform("WARNING", tag, msg))
		lb.add(end, end, output("Aborted by ci-bot"))
	default:
		lb.add(end, end, platform("INFO", tag, g.endMarker(false)))
	}
}

// headerLines are the platform lines a step writes right after its start
// marker: level and message.
func (g *gen) headerLines(spec *StageSpec) [][2]string {
	var out [][2]string
	if g.spec.English {
		out = append(out, [2]string{"INFO", fmt.Sprintf("plugin version is :1.%d.%d", 1+g.rng.IntN(3), g.rng.IntN(30))})
	} else {
		out = append(out, [2]string{"INFO", fmt.Sprintf("插件版本: 1.%d.%d", 1+g.rng.IntN(3), g.rng.IntN(30))})
	}
	if g.spec.AltFormat {
		out = append(out, [2]string{"INTERNAL", "task context loaded, cache key " + g.hex(12)})
	}
	out = append(out, [2]string{"DEBUG", "workspace: /opt/agent_" + g.digits(13) + "/workspace/" + g.execID})
	if spec.Tool == "git" && !g.spec.English && g.rng.IntN(2) == 0 {
		out = append(out, [2]string{"WARNING", "[WARN]DEV.CB.02101217,用户名或密码为空。"})
	} else if g.rng.IntN(4) == 0 {
		if g.spec.English {
			out = append(out, [2]string{"WARNING", "deprecated parameter 'scmRelativeTargetDir' ignored"})
		} else {
			out = append(out, [2]string{"WARNING", "参数 scmRelativeTargetDir 已废弃，将被忽略"})
		}
	}
	out = append(out, [2]string{"INFO", "start run shell command"})
	return out
}

// fixtureBody replays the next record of a fixture corpus (from a random
// start in each step).
func (g *gen) fixtureBody(c *corpus) string {
	if len(c.bodies) == 0 {
		return output("(no output)")
	}
	i, ok := g.pos[c]
	if !ok {
		i = g.rng.IntN(len(c.bodies))
	}
	g.pos[c] = i + 1
	return c.bodies[i%len(c.bodies)]
}

func (g *gen) pick(xs ...string) string { return xs[g.rng.IntN(len(xs))] }

func (g *gen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rng.IntN(16)]
	}
	return string(b)
}

func (g *gen) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.rng.IntN(10))
	}
	return string(b)
}

func (g *gen) base62(n int) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rng.IntN(len(digits))]
	}
	return string(b)
}

var (
	javaClasses = []string{"OrderService", "InventoryClient", "PaymentGateway", "CartController", "UserRepository", "InvoiceMapper"}
	npmPkgs     = []string{"react", "vite", "axios", "lodash-es", "dayjs", "zustand", "@vitejs/plugin-react", "typescript"}
	goPkgs      = []string{"internal/charge", "internal/refund", "internal/ledger", "internal/api", "pkg/money", "cmd/payment"}
	zhTestNames = []string{"订单创建_正常流程", "库存扣减_并发场景", "支付回调_签名校验", "退款_部分金额", "用户登录_验证码过期"}
)

// toolBody is the i-th of n tool-output records of a step.
func (g *gen) toolBody(tool string, i, n int) string {
	zh := !g.spec.English
	phase := float64(i) / float64(max(n, 1))
	switch tool {
	case "git":
		return g.fixtureBody(&g.c.git)
	case "shell":
		return g.fixtureBody(&g.c.shell)
	case "pytest":
		return g.fixtureBody(&g.c.pytest)
	case "curl":
		return g.fixtureBody(&g.c.curl)
	case "maven":
		cls := g.pick(javaClasses...)
		switch {
		case phase < 0.3:
			a := g.pick("org/springframework/spring-core/6.1.5/spring-core-6.1.5.jar", "com/fasterxml/jackson/core/jackson-databind/2.17.0/jackson-databind-2.17.0.jar", "org/apache/commons/commons-lang3/3.14.0/commons-lang3-3.14.0.jar")
			if g.rng.IntN(2) == 0 {
				return output("Downloading from huaweicloud: https://repo.huaweicloud.com/repository/maven/" + a)
			}
			return output(fmt.Sprintf("Downloaded from huaweicloud: https://repo.huaweicloud.com/repository/maven/%s (%d kB at %d kB/s)", a, 20+g.rng.IntN(900), 100+g.rng.IntN(4000)))
		case phase < 0.8:
			switch g.rng.IntN(6) {
			case 0:
				return output(fmt.Sprintf("[WARNING] /workspace/src/main/java/com/example/order/%s.java:[%d,%d] unchecked conversion", cls, 10+g.rng.IntN(200), 5+g.rng.IntN(40)))
			case 1:
				if zh {
					return output(fmt.Sprintf("[INFO] 正在编译模块 order-%s，共 %d 个源文件", g.pick("api", "core", "web"), 20+g.rng.IntN(200)))
				}
				return output(fmt.Sprintf("[INFO] Compiling %d source files with javac [debug release 17] to target/classes", 20+g.rng.IntN(200)))
			default:
				return output(fmt.Sprintf("[INFO] --- %s @ order-service ---", g.pick("maven-compiler-plugin:3.11.0:compile (default-compile)", "maven-resources-plugin:3.3.1:resources (default-resources)", "maven-jar-plugin:3.3.0:jar (default-jar)")))
			}
		default:
			if zh && g.rng.IntN(3) == 0 {
				return output(fmt.Sprintf("[INFO] 构建产物 order-service-1.%d.%d.jar 已生成，用时 %d.%03d 秒", g.rng.IntN(9), g.rng.IntN(20), g.rng.IntN(60), g.rng.IntN(1000)))
			}
			return output(g.pick("[INFO] Building jar: /workspace/target/order-service-1.4.2.jar", "[INFO] BUILD SUCCESS", fmt.Sprintf("[INFO] Total time:  %d.%03d s", 10+g.rng.IntN(50), g.rng.IntN(1000)), "[INFO] ------------------------------------------------------------------------"))
		}
	case "junit":
		cls := g.pick(javaClasses...)
		switch g.rng.IntN(5) {
		case 0:
			return output("[INFO] Running com.example.order." + cls + "Test")
		case 1:
			if zh {
				return output("[INFO] 测试用例 " + g.pick(zhTestNames...) + " 通过")
			}
			return output(fmt.Sprintf("[INFO] %sTest.should%s -- Time elapsed: 0.%03d s", cls, g.pick("CreateOrder", "RejectEmptyCart", "RetryOnTimeout"), g.rng.IntN(1000)))
		case 2:
			return output(fmt.Sprintf("[WARNING] Tests run: %d, Failures: 0, Errors: 0, Skipped: %d, Time elapsed: %d.%03d s -- in com.example.order.%sTest", 3+g.rng.IntN(20), 1+g.rng.IntN(3), g.rng.IntN(3), g.rng.IntN(1000), cls))
		default:
			return output(fmt.Sprintf("[INFO] Tests run: %d, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: %d.%03d s -- in com.example.order.%sTest", 3+g.rng.IntN(30), g.rng.IntN(3), g.rng.IntN(1000), cls))
		}
	case "npm":
		switch {
		case phase < 0.35:
			if g.rng.IntN(3) == 0 {
				return output(g.pick("npm WARN deprecated inflight@1.0.6: This module is not supported, and leaks memory.", "npm WARN deprecated glob@7.2.3: Glob versions prior to v9 are no longer supported", "npm WARN EBADENGINE Unsupported engine { package: 'vite@5.2.8', required: { node: '^18.0.0 || >=20.0.0' } }"))
			}
			return output(fmt.Sprintf("npm http fetch GET 200 https://repo.huaweicloud.com/repository/npm/%s %dms (cache miss)", g.pick(npmPkgs...), 20+g.rng.IntN(400)))
		case phase < 0.45:
			return output(fmt.Sprintf("added %d packages, and audited %d packages in %ds", 800+g.rng.IntN(900), 1700+g.rng.IntN(100), 8+g.rng.IntN(30)))
		case phase < 0.9:
			return output(g.pick(
				fmt.Sprintf("transforming (%d) src/components/%s.tsx", 10+g.rng.IntN(1500), g.pick("Chart", "OrderTable", "Login", "Dashboard")),
				fmt.Sprintf("dist/assets/index-%s.js   %d.%02d kB │ gzip: %d.%02d kB", g.hex(8), 100+g.rng.IntN(400), g.rng.IntN(100), 30+g.rng.IntN(100), g.rng.IntN(100)),
				"vite v5.2.8 building for production...",
				fmt.Sprintf("✓ %d modules transformed.", 500+g.rng.IntN(1000))))
		default:
			return output(g.pick(fmt.Sprintf("✨ Done in %d.%02ds.", 5+g.rng.IntN(40), g.rng.IntN(100)), "🚀 build artefacts uploaded to dist/", fmt.Sprintf("✓ built in %d.%02ds", 3+g.rng.IntN(20), g.rng.IntN(100))))
		}
	case "lint":
		if g.rng.IntN(3) == 0 {
			// A multi-line record: eslint's file header and its findings are
			// written without timestamp prefixes (continuation lines).
			return fmt.Sprintf(" /workspace/src/pages/%s.tsx\n  %d:%d  warning  'unused' is assigned a value but never used  @typescript-eslint/no-unused-vars\n  %d:%d  warning  Unexpected console statement  no-console\n",
				g.pick("Orders", "Login", "Reports"), 1+g.rng.IntN(200), 1+g.rng.IntN(40), 1+g.rng.IntN(200), 1+g.rng.IntN(40))
		}
		return output(g.pick("> eslint 'src/**/*.{ts,tsx}' --max-warnings=50", fmt.Sprintf("✖ %d problems (0 errors, %d warnings)", 2+g.rng.IntN(9), 2+g.rng.IntN(9)), "> stylelint 'src/**/*.css'", "Checking formatting...", "All matched files use Prettier code style!"))
	case "go":
		if phase < 0.5 {
			return output(fmt.Sprintf("go: downloading %s", g.pick("github.com/prometheus/client_golang v1.20.5", "golang.org/x/sync v0.8.0", "github.com/jackc/pgx/v5 v5.6.0", "google.golang.org/grpc v1.66.0")))
		}
		if !g.spec.English && g.rng.IntN(3) == 0 {
			return output(fmt.Sprintf("编译 %s 完成，耗时 %d.%02ds", g.pick(goPkgs...), g.rng.IntN(9), g.rng.IntN(100)))
		}
		return output(g.pick("go build -trimpath -ldflags=\"-s -w\" -o bin/payment ./cmd/payment", "go vet ./...", "# github.com/example/payment/"+g.pick(goPkgs...)))
	case "gotest":
		pkg := g.pick(goPkgs...)
		switch g.rng.IntN(4) {
		case 0:
			return output("=== RUN   Test" + g.pick("Charge", "Refund", "Ledger", "Money"))
		case 1:
			return output(fmt.Sprintf("--- PASS: Test%s (0.%02ds)", g.pick("Charge", "Refund", "Ledger", "Money"), g.rng.IntN(100)))
		default:
			return output(fmt.Sprintf("ok  \tgithub.com/example/payment/%s\t%d.%03ds\tcoverage: %d.%d%% of statements", pkg, g.rng.IntN(3), g.rng.IntN(1000), 50+g.rng.IntN(50), g.rng.IntN(10)))
		}
	case "docker":
		switch g.rng.IntN(4) {
		case 0:
			return output(fmt.Sprintf("Step %d/12 : %s", 1+g.rng.IntN(12), g.pick("FROM golang:1.22 AS build", "RUN go build -o /out/payment ./cmd/payment", "COPY --from=build /out/payment /usr/local/bin/", "ENTRYPOINT [\"payment\"]")))
		case 1:
			return output(" ---> Running in " + g.hex(12))
		case 2:
			return output(fmt.Sprintf("%s: Pushed", g.hex(12)))
		default:
			return output(fmt.Sprintf("v1.%d.%d: digest: sha256:%s size: %d", g.rng.IntN(9), g.rng.IntN(30), g.hex(64), 1000+g.rng.IntN(3000)))
		}
	}
	return output("(no output)")
}

// errorBody is one error output record of the tool (failure tails and
// error spikes).
func (g *gen) errorBody(tool string) string {
	zh := !g.spec.English
	switch tool {
	case "maven":
		if zh && g.rng.IntN(3) == 0 {
			return output("[ERROR] 编译失败：找不到符号 reserve(java.lang.String)")
		}
		return g.pick(
			output("[ERROR] Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin:3.11.0:compile (default-compile) on project order-service: Compilation failure"),
			" [ERROR] /workspace/src/main/java/com/example/order/OrderService.java:[88,17] cannot find symbol\n  symbol:   method reserve(java.lang.String)\n  location: variable inventory of type com.example.order.InventoryClient\n",
			output("[ERROR] -> [Help 1]"))
	case "junit":
		if zh && g.rng.IntN(3) == 0 {
			return output("[ERROR] 测试用例 " + g.pick(zhTestNames...) + " 失败：期望 400，实际 500")
		}
		return g.pick(
			output(fmt.Sprintf("[ERROR] Tests run: %d, Failures: %d, Errors: 0, Skipped: 0, Time elapsed: 1.%03d s <<< FAILURE! -- in com.example.order.OrderServiceTest", 5+g.rng.IntN(20), 1+g.rng.IntN(3), g.rng.IntN(1000))),
			" [ERROR] com.example.order.OrderServiceTest.shouldRejectEmptyCart -- Time elapsed: 0.013 s <<< FAILURE!\norg.opentest4j.AssertionFailedError: expected: <400> but was: <500>\n\tat org.junit.jupiter.api.AssertionFailureBuilder.build(AssertionFailureBuilder.java:151)\n\tat com.example.order.OrderServiceTest.shouldRejectEmptyCart(OrderServiceTest.java:77)\n")
	case "npm":
		return output(g.pick("npm ERR! code ELIFECYCLE", "npm ERR! errno 2", "npm ERR! frontend@2.3.0 build: `vite build`", "npm ERR! Exit status 2",
			"error TS2339: Property 'total' does not exist on type 'Order'."))
	case "lint":
		if g.rng.IntN(2) == 0 {
			return fmt.Sprintf(" /workspace/src/api/client.ts\n  %d:%d  error  'fetchOrders' is not defined  no-undef\n", 1+g.rng.IntN(200), 1+g.rng.IntN(40))
		}
		return output(fmt.Sprintf("✖ %d problems (%d errors, 0 warnings)", 3+g.rng.IntN(9), 1+g.rng.IntN(3)))
	case "go", "gotest":
		return g.pick(
			fmt.Sprintf(" --- FAIL: TestRefund/partial (0.%02ds)\n    refund_test.go:%d: got 402, want 200\n", g.rng.IntN(100), 10+g.rng.IntN(90)),
			output(fmt.Sprintf("FAIL\tgithub.com/example/payment/%s\t0.%03ds", g.pick(goPkgs...), g.rng.IntN(1000))),
			" panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x6b1f2a]\n\ngoroutine 37 [running]:\ngithub.com/example/payment/internal/ledger.(*Book).Post(...)\n\t/workspace/internal/ledger/book.go:112 +0x2a\n",
			output("./internal/ledger/book.go:112:9: undefined: postEntry"))
	case "git":
		// git's own messages for the usual checkout failures.
		name := g.spec.Name
		if name == "" {
			name = "app"
		}
		repo := "https://codehub.example.com/demo/" + name + ".git/"
		return output(g.pick("fatal: unable to access '"+repo+"': Failed to connect to codehub.example.com port 443: Connection timed out",
			"fatal: unable to access '"+repo+"': Could not resolve host: codehub.example.com",
			"fatal: Authentication failed for '"+repo+"'"))
	case "docker":
		return output(g.pick("ERROR: failed to solve: process \"/bin/sh -c go build -o /out/payment ./cmd/payment\" did not complete successfully: exit code: 1",
			"error pushing image: denied: requested access to the resource is denied"))
	}
	if c := &g.c.pytest; len(c.errors) > 0 && g.rng.IntN(2) == 0 {
		return c.errors[g.rng.IntN(len(c.errors))]
	}
	if zh && g.rng.IntN(3) == 0 {
		return output("[ERROR] 命令执行失败，退出码 1")
	}
	return output(g.pick("E       AssertionError: assert 500 == 200", "ERROR: command failed with exit code 1", "curl: (22) The requested URL returned error: 404"))
}
