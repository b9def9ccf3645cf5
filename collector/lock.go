package collector

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// StateLock is the exclusive lock of one process on a state file: a lock
// file beside it, "<state file>.lock", locked with flock(2) and holding the
// locking process's pid. Two exporters writing one state file would load
// each other's older state after a restart and make counters go down; the
// second one refuses to start instead. The kernel releases the lock when
// the process ends, however it ends, so a kill -9 leaves no stale lock.
type StateLock struct {
	f *os.File
}

// StateLockedError is returned by LockStateFile when another process holds
// the lock.
type StateLockedError struct {
	Path string // the lock file
	PID  int    // the holder's pid, 0 if unknown
}

func (e *StateLockedError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("state file lock %s is held by %s: only one exporter may use a state file (stop the other one, or give this one its own --state.file)", e.Path, holder)
}

// LockStateFile takes the lock of stateFile for the life of the process (or
// until Release), then checks that the state file's directory (and the file,
// if it exists) can be written, and removes the temporary files an
// interrupted write left beside the state file: only the lock holder can
// know that no other process is writing them. It returns the names removed.
// Another holder gives a *StateLockedError naming its pid; an unwritable
// directory an error naming the path.
func LockStateFile(stateFile string) (*StateLock, []string, error) {
	path := stateFile + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("state file lock: %w (the directory of --state.file must exist and be writable)", err)
	}
	if err := flockExclusive(f); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, errLocked) {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
			return nil, nil, &StateLockedError{Path: path, PID: pid}
		}
		return nil, nil, fmt.Errorf("state file lock %s: %w", path, err)
	}
	l := &StateLock{f: f}
	if err := l.writePID(); err != nil {
		l.Release()
		return nil, nil, fmt.Errorf("state file lock %s: %w", path, err)
	}
	if err := checkWritable(stateFile); err != nil {
		l.Release()
		return nil, nil, err
	}
	return l, removeStaleTemps(stateFile), nil
}

func (l *StateLock) writePID() error {
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err := l.f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// Release unlocks. The lock file stays (removing it could let a third
// process lock a new file while a second one still waits on the old one).
func (l *StateLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// checkWritable makes sure commits can be written: a temporary file can be
// created in the state file's directory (commits rename one over the
// file) and the state file, if it exists, can be opened for writing
// (commits append to it).
func checkWritable(stateFile string) error {
	dir := filepath.Dir(stateFile)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(stateFile)+".tmp-*")
	if err != nil {
		return fmt.Errorf("state directory %s is not writable: %w", dir, err)
	}
	name := tmp.Name()
	tmp.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("state directory %s: %w", dir, err)
	}
	f, err := os.OpenFile(stateFile, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state file %s is not writable: %w", stateFile, err)
	}
	return f.Close()
}
