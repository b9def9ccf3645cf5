package parser

// defaultFailureRuleConfigs is the knowledge base of docs/failure-rules.md.
// Order is specificity: within the window of a failure, the first rule
// that matched decides, so root causes (memory, disk, time, the platform's
// environment, permissions) come before the tool verdicts they produce
// (a compile or test failure), and generic rules (an exit code, a build
// tool's "failed" line) come last. Every message format below is one that
// the tool really prints; each rule has a literal, so the prefilter of the
// severity rules keeps them cheap.
var defaultFailureRuleConfigs = []FailureRuleConfig{
	// Out of memory.
	{Name: "kernel-oom-kill", Regex: `Out of memory: Kill(?:ed)? process`, Category: CategoryOOM, Cause: "the kernel killed a process: out of memory"},
	{Name: "container-oomkilled", Match: "OOMKilled", Category: CategoryOOM, Cause: "the container was killed for exceeding its memory limit"},
	{Name: "node-heap-oom", Match: "JavaScript heap out of memory", Category: CategoryOOM, Cause: "JavaScript heap out of memory"},
	{Name: "java-oom", Match: "java.lang.OutOfMemoryError", Category: CategoryOOM, Cause: "the JVM ran out of memory (OutOfMemoryError)"},
	{Name: "gradle-daemon-oom", Match: "Gradle build daemon has been stopped: JVM garbage collector thrashing", Category: CategoryOOM, Cause: "the Gradle daemon ran out of memory"},
	{Name: "go-runtime-oom", Match: "fatal error: runtime: out of memory", Category: CategoryOOM, Cause: "the Go runtime ran out of memory"},
	{Name: "python-memoryerror", Regex: `(?m)^MemoryError\b`, Category: CategoryOOM, Cause: "Python raised MemoryError"},
	{Name: "compiler-killed", Match: "fatal error: Killed signal terminated program", Category: CategoryOOM, Cause: "the compiler was killed (usually out of memory)"},
	{Name: "cannot-allocate-memory", Match: "Cannot allocate memory", Category: CategoryOOM, Cause: "the system could not allocate memory"},

	// Disk.
	{Name: "no-space-left", Regex: `[Nn]o space left on device`, Category: CategoryDisk, Cause: "no space left on device"},
	{Name: "enospc", Match: "ENOSPC", Category: CategoryDisk, Cause: "no space left on device (ENOSPC)"},
	{Name: "disk-quota", Regex: `[Dd]isk quota exceeded`, Category: CategoryDisk, Cause: "disk quota exceeded"},

	// Time limits.
	{Name: "jenkins-build-timeout", Match: "Build timed out (after ", Category: CategoryTimeout, Cause: "the build exceeded its time limit"},
	{Name: "jenkins-timeout-step", Match: "Timeout has been exceeded", Category: CategoryTimeout, Cause: "the step exceeded its time limit"},
	{Name: "jenkins-cancel-timeout", Match: "Cancelling nested steps due to timeout", Category: CategoryTimeout, Cause: "the step exceeded its time limit"},
	{Name: "codearts-timeout", Regex: `DEV\.CB\.\d+.*(?:[Tt]imed? ?out|超时)`, Category: CategoryTimeout, Cause: "CodeArts stopped the step: time limit exceeded"},
	{Name: "step-timeout-zh", Regex: `(?:执行|构建|任务)超时`, Category: CategoryTimeout, Cause: "CodeArts stopped the step: time limit exceeded"},
	{Name: "go-test-timeout", Match: "panic: test timed out after", Category: CategoryTimeout, Cause: "go test hit its -timeout"},
	{Name: "surefire-fork-timeout", Match: "There was a timeout in the fork", Category: CategoryTimeout, Cause: "Surefire's forked test JVM timed out"},
	{Name: "surefire-fork-timeout-or-error", Match: "There was a timeout or other error in the fork", Category: CategoryTimeout, Cause: "Surefire's forked test JVM timed out"},
	{Name: "pytest-timeout", Regex: `(?m)^[ E]*Failed: Timeout >`, Category: CategoryTimeout, Cause: "a test hit the pytest-timeout limit"},

	// The build environment: agents, resource pools, test environments.
	{Name: "env-allocation-rejected", Regex: `[Ee]nvironment allocation (?:rejected|failed)`, Category: CategoryEnvironment, Cause: "the test environment could not be allocated"},
	{Name: "failed-to-allocate", Regex: `[Ff]ailed to allocate (?:environment|resource|executor|agent|node)`, Category: CategoryEnvironment, Cause: "an environment or executor could not be allocated"},
	{Name: "no-available-executor", Regex: `[Nn]o available (?:executor|agent|build node)`, Category: CategoryEnvironment, Cause: "no build executor was available"},
	{Name: "resource-pool-exhausted", Regex: `[Rr]esource pool.{0,60}(?:insufficient|exhausted|not enough|unavailable|busy)`, Category: CategoryEnvironment, Cause: "the resource pool had no capacity"},
	{Name: "resource-pool-zh", Regex: `资源(?:池)?(?:不足|已满|繁忙)`, Category: CategoryEnvironment, Cause: "the resource pool had no capacity"},
	{Name: "jenkins-no-label-nodes", Match: "There are no nodes with the label", Category: CategoryEnvironment, Cause: "no build agent has the required label"},
	{Name: "jenkins-agent-disconnected", Regex: `Backing channel '[^']*' is disconnected`, Category: CategoryEnvironment, Cause: "the build agent disconnected"},
	{Name: "jenkins-channel-closed", Match: "ChannelClosedException", Category: CategoryEnvironment, Cause: "the build agent disconnected"},
	{Name: "k8s-unschedulable", Regex: `\d+/\d+ nodes are available: `, Category: CategoryEnvironment, Cause: "no cluster node could run the build pod"},

	// Docker and image registries (before permission: "pull access denied"
	// is a missing image as often as missing rights).
	{Name: "docker-daemon-down", Match: "Cannot connect to the Docker daemon", Category: CategoryDocker, Cause: "the Docker daemon is not reachable"},
	{Name: "docker-pull-access-denied", Match: "pull access denied for ", Category: CategoryDocker, Cause: "the image does not exist or needs docker login"},
	{Name: "docker-manifest-unknown", Match: "manifest unknown", Category: CategoryDocker, Cause: "the image tag does not exist in the registry"},
	{Name: "dockerfile-parse-error", Regex: `[Dd]ockerfile parse error`, Category: CategoryDocker, Cause: "the Dockerfile does not parse"},
	{Name: "buildkit-not-found", Regex: `failed to solve: .*: not found`, Category: CategoryDocker, Cause: "a file or image the Dockerfile needs was not found"},
	{Name: "buildkit-checksum", Match: "failed to compute cache key", Category: CategoryDocker, Cause: "a file the Dockerfile copies was not found"},

	// Permissions and credentials.
	{Name: "docker-push-denied", Match: "denied: requested access to the resource is denied", Category: CategoryPermission, Cause: "the registry denied access to the image"},
	{Name: "registry-unauthorized", Match: "unauthorized: authentication required", Category: CategoryPermission, Cause: "the registry requires authentication"},
	{Name: "git-auth-failed", Match: "Authentication failed for ", Category: CategoryPermission, Cause: "git authentication failed"},
	{Name: "ssh-publickey", Match: "Permission denied (publickey", Category: CategoryPermission, Cause: "SSH authentication failed (publickey)"},
	{Name: "maven-unauthorized", Regex: `Return code is: 40[13]`, Category: CategoryPermission, Cause: "the repository refused the credentials (HTTP 401/403)"},
	{Name: "http-403", Match: "403 Forbidden", Category: CategoryPermission, Cause: "access forbidden (HTTP 403)"},
	{Name: "eacces", Match: "EACCES", Category: CategoryPermission, Cause: "permission denied (EACCES)"},
	{Name: "permission-denied", Match: "Permission denied", Category: CategoryPermission, Cause: "permission denied"},
	{Name: "operation-not-permitted", Match: "Operation not permitted", Category: CategoryPermission, Cause: "operation not permitted"},

	// Dependencies (before network: "Could not resolve dependencies ...
	// Connection timed out" is reported as what it broke).
	{Name: "maven-resolve-dependencies", Match: "Could not resolve dependencies for project", Category: CategoryDependency, Cause: "Maven could not resolve dependencies"},
	{Name: "maven-plugin-resolution", Match: "or one of its dependencies could not be resolved", Category: CategoryDependency, Cause: "Maven could not resolve a plugin"},
	{Name: "maven-parent-pom", Match: "Non-resolvable parent POM", Category: CategoryDependency, Cause: "Maven could not resolve the parent POM"},
	{Name: "gradle-resolve", Regex: `Could not resolve all (?:files|dependencies|artifacts) for configuration`, Category: CategoryDependency, Cause: "Gradle could not resolve dependencies"},
	{Name: "npm-e404", Regex: `^npm (?:ERR!|error) code E404`, Category: CategoryDependency, Cause: "npm: package not found in the registry (E404)"},
	{Name: "npm-etarget", Regex: `^npm (?:ERR!|error) code ETARGET`, Category: CategoryDependency, Cause: "npm: no matching version found (ETARGET)"},
	{Name: "npm-eresolve", Regex: `^npm (?:ERR!|error) code ERESOLVE`, Category: CategoryDependency, Cause: "npm could not resolve the dependency tree (ERESOLVE)"},
	{Name: "npm-ci-lockfile", Match: "can only install packages when your package.json and package-lock.json", Category: CategoryDependency, Cause: "npm ci: package.json and package-lock.json are out of sync"},
	{Name: "yarn-not-found", Regex: `Couldn't find (?:package|any versions for) "`, Category: CategoryDependency, Cause: "yarn could not find a package version"},
	{Name: "pnpm-fetch-404", Match: "ERR_PNPM_FETCH_404", Category: CategoryDependency, Cause: "pnpm: package not found in the registry"},
	{Name: "pnpm-no-matching-version", Match: "ERR_PNPM_NO_MATCHING_VERSION", Category: CategoryDependency, Cause: "pnpm: no matching version found"},
	{Name: "pnpm-outdated-lockfile", Match: "ERR_PNPM_OUTDATED_LOCKFILE", Category: CategoryDependency, Cause: "pnpm: the lockfile is out of date"},
	{Name: "pip-no-distribution", Match: "No matching distribution found for", Category: CategoryDependency, Cause: "pip could not find a matching distribution"},
	{Name: "pip-resolution-impossible", Match: "ResolutionImpossible", Category: CategoryDependency, Cause: "pip could not resolve conflicting requirements"},
	{Name: "go-missing-gosum", Match: "missing go.sum entry", Category: CategoryDependency, Cause: "Go: missing go.sum entry"},
	{Name: "go-unknown-revision", Match: "unknown revision ", Category: CategoryDependency, Cause: "Go: a module version does not exist"},
	{Name: "go-no-module", Match: "no required module provides package", Category: CategoryDependency, Cause: "Go: no module provides an imported package"},
	{Name: "apt-unable-to-locate", Match: "E: Unable to locate package", Category: CategoryDependency, Cause: "apt could not find a package"},

	// Network.
	{Name: "codearts-pull-code", Match: "Failed to pull the code", Category: CategoryNetwork, Cause: "CodeArts could not pull the code"},
	{Name: "could-not-resolve-host", Match: "Could not resolve host", Category: CategoryNetwork, Cause: "a host name did not resolve"},
	{Name: "name-resolution", Match: "Temporary failure in name resolution", Category: CategoryNetwork, Cause: "a host name did not resolve"},
	{Name: "unknown-host", Match: "UnknownHostException", Category: CategoryNetwork, Cause: "a host name did not resolve"},
	{Name: "eai-again", Match: "EAI_AGAIN", Category: CategoryNetwork, Cause: "a host name did not resolve (EAI_AGAIN)"},
	{Name: "curl-failed-to-connect", Regex: `Failed to connect to \S+ port \d+`, Category: CategoryNetwork, Cause: "a connection could not be established"},
	{Name: "connection-timed-out", Regex: `[Cc]onnection timed out`, Category: CategoryNetwork, Cause: "a connection timed out"},
	{Name: "connect-timed-out-java", Match: "SocketTimeoutException", Category: CategoryNetwork, Cause: "a connection timed out"},
	{Name: "etimedout", Match: "ETIMEDOUT", Category: CategoryNetwork, Cause: "a connection timed out (ETIMEDOUT)"},
	{Name: "io-timeout", Match: "i/o timeout", Category: CategoryNetwork, Cause: "a connection timed out"},
	{Name: "tls-handshake-timeout", Match: "TLS handshake timeout", Category: CategoryNetwork, Cause: "a TLS handshake timed out"},
	{Name: "connection-reset", Match: "Connection reset", Category: CategoryNetwork, Cause: "a connection was reset"},
	{Name: "econnreset", Match: "ECONNRESET", Category: CategoryNetwork, Cause: "a connection was reset (ECONNRESET)"},
	{Name: "connection-refused", Match: "Connection refused", Category: CategoryNetwork, Cause: "a connection was refused"},
	{Name: "econnrefused", Match: "ECONNREFUSED", Category: CategoryNetwork, Cause: "a connection was refused (ECONNREFUSED)"},
	{Name: "network-unreachable", Match: "Network is unreachable", Category: CategoryNetwork, Cause: "the network is unreachable"},
	{Name: "http-502", Match: "502 Bad Gateway", Category: CategoryNetwork, Cause: "a server answered 502 Bad Gateway"},
	{Name: "http-503", Regex: `503 Service (?:Temporarily )?Unavailable`, Category: CategoryNetwork, Cause: "a server answered 503 Service Unavailable"},
	{Name: "http-504", Match: "504 Gateway Time", Category: CategoryNetwork, Cause: "a server answered 504 Gateway Timeout"},

	// Compilation.
	{Name: "maven-compilation-error", Match: "COMPILATION ERROR", Category: CategoryCompile, Cause: "Java compilation failed"},
	{Name: "maven-compilation-failure", Match: "Compilation failure", Category: CategoryCompile, Cause: "Java compilation failed"},
	{Name: "gradle-compilation-failed", Match: "Compilation failed; see the compiler error output for details", Category: CategoryCompile, Cause: "Java compilation failed"},
	{Name: "gradle-compile-task", Regex: `Execution failed for task '[^']*:compile`, Category: CategoryCompile, Cause: "a Gradle compile task failed"},
	{Name: "javac-error", Regex: `\.java:\d+: error: `, Category: CategoryCompile, Cause: "Java compilation failed"},
	{Name: "kotlin-compilation-error", Match: "Compilation error. See log for more details", Category: CategoryCompile, Cause: "Kotlin compilation failed"},
	{Name: "tsc-error", Regex: `error TS\d+: `, Category: CategoryCompile, Cause: "TypeScript compilation failed"},
	{Name: "c-compile-error", Regex: `\.(?:c|cc|cpp|cxx|h|hpp):\d+:\d+: error: `, Category: CategoryCompile, Cause: "C/C++ compilation failed"},
	{Name: "c-compile-fatal", Regex: `\.(?:c|cc|cpp|cxx|h|hpp):\d+:\d+: fatal error: `, Category: CategoryCompile, Cause: "C/C++ compilation failed"},
	{Name: "linker-error", Match: "collect2: error: ld returned", Category: CategoryCompile, Cause: "linking failed"},
	{Name: "go-compile-error", Regex: `\.go:\d+:\d+: `, Category: CategoryCompile, Cause: "Go compilation failed"},
	{Name: "webpack-module-not-found", Match: "Module not found: Error: Can't resolve", Category: CategoryCompile, Cause: "the bundler could not resolve a module"},
	{Name: "python-syntax-error", Regex: `(?m)^SyntaxError: `, Category: CategoryCompile, Cause: "Python syntax error"},
	{Name: "python-indentation-error", Regex: `(?m)^IndentationError: `, Category: CategoryCompile, Cause: "Python indentation error"},

	// Tests.
	{Name: "surefire-test-failures", Match: "There are test failures", Category: CategoryTest, Cause: "unit tests failed (Maven Surefire)"},
	{Name: "surefire-error-summary", Match: "[ERROR] Tests run:", Category: CategoryTest, Cause: "unit tests failed (Maven Surefire)"},
	{Name: "gradle-failing-tests", Match: "There were failing tests", Category: CategoryTest, Cause: "unit tests failed (Gradle)"},
	{Name: "gradle-test-task", Regex: `Execution failed for task '[^']*:test'`, Category: CategoryTest, Cause: "unit tests failed (Gradle)"},
	{Name: "go-test-fail", Match: "--- FAIL: ", Category: CategoryTest, Cause: "Go tests failed"},
	{Name: "go-test-pkg-fail", Regex: `^FAIL\t`, Category: CategoryTest, Cause: "Go tests failed"},
	{Name: "pytest-failed", Regex: `^FAILED \S+::`, Category: CategoryTest, Cause: "pytest tests failed"},
	{Name: "pytest-summary", Regex: `^=+ (?:.*, )?\d+ failed`, Category: CategoryTest, Cause: "pytest tests failed"},
	{Name: "unittest-failed", Regex: `^FAILED \((?:failures|errors)=`, Category: CategoryTest, Cause: "Python unittest tests failed"},
	{Name: "jest-summary", Regex: `^Tests:\s+\d+ failed`, Category: CategoryTest, Cause: "jest tests failed"},
	{Name: "jest-suite-fail", Regex: `^FAIL \S+\.(?:js|jsx|ts|tsx|mjs|cjs)\b`, Category: CategoryTest, Cause: "jest tests failed"},
	{Name: "mocha-failing", Regex: `^\s*\d+ failing$`, Category: CategoryTest, Cause: "mocha tests failed"},
	{Name: "ctest-failed", Match: "The following tests FAILED:", Category: CategoryTest, Cause: "CTest tests failed"},

	// Scripts.
	{Name: "command-not-found", Regex: `: command not found$`, Category: CategoryScript, Cause: "a command was not found"},
	{Name: "no-such-file-script", Regex: `^(?:/bin/)?(?:ba)?sh: (?:line \d+: )?\S+: No such file or directory`, Category: CategoryScript, Cause: "a script or command does not exist"},

	// Generic: only when nothing more specific is near the failure.
	{Name: "exit-137", Regex: `[Ee]xit code:? 137\b`, Category: CategoryScript, Cause: "a process was killed (SIGKILL, exit code 137)", Generic: true},
	{Name: "exit-status-137", Regex: `[Ee]xit status 137\b`, Category: CategoryScript, Cause: "a process was killed (SIGKILL, exit status 137)", Generic: true},
	{Name: "docker-run-step-failed", Match: "did not complete successfully: exit code", Category: CategoryDocker, Cause: "a Dockerfile RUN step failed", Generic: true},
	{Name: "docker-daemon-error", Match: "Error response from daemon: ", Category: CategoryDocker, Cause: "the Docker daemon reported an error", Generic: true},
	{Name: "npm-lifecycle", Regex: `^npm (?:ERR!|error) code ELIFECYCLE`, Category: CategoryScript, Cause: "an npm script failed", Generic: true},
	{Name: "npm-command-failed", Regex: `^npm (?:ERR!|error) command failed`, Category: CategoryScript, Cause: "an npm script failed", Generic: true},
	{Name: "yarn-pnpm-command-failed", Match: "Command failed with exit code", Category: CategoryScript, Cause: "a package script failed", Generic: true},
	{Name: "make-error", Regex: `make(?:\[\d+\])?: \*\*\* `, Category: CategoryScript, Cause: "make stopped on an error", Generic: true},
	{Name: "maven-goal-failed", Match: "Failed to execute goal", Category: CategoryScript, Cause: "a Maven goal failed", Generic: true},
	{Name: "gradle-build-failed", Match: "FAILURE: Build failed with an exception", Category: CategoryScript, Cause: "the Gradle build failed", Generic: true},
	{Name: "python-called-process-error", Match: "CalledProcessError", Category: CategoryScript, Cause: "a subprocess exited non-zero", Generic: true},
	{Name: "script-exit-code", Regex: `script returned exit code [1-9]`, Category: CategoryScript, Cause: "the step's script exited non-zero", Generic: true},
	{Name: "exit-code", Regex: `\b[Ee]xit code:? [1-9]`, Category: CategoryScript, Cause: "a command exited non-zero", Generic: true},
	{Name: "exit-status", Regex: `\b[Ee]xit status:? [1-9]`, Category: CategoryScript, Cause: "a command exited non-zero", Generic: true},
	{Name: "codearts-error-code", Regex: `DEV\.CB\.\d+`, Category: CategoryUnknown, Cause: "CodeArts reported an error code", Generic: true},
}
