// The run-root store: the one module that reads and writes the files that record a pod's life.
// Per container run (its run dir): the monitor's start.json and exit.json and its monitor.log,
// and the supervisor's run.json beside them. Per pod: observed.json in the run dir (restart
// counts and back-off, for a restarted daemon to go on from) and ended.json in the state dir
// (a pod that ended stays ended across reboots). Where these files are is Layout's; what is in
// them is this module's, and nothing else opens them.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../base/atomic.ts";
import { PoddError } from "../base/errors.ts";
import type { Layout, PodRef } from "../base/paths.ts";

export interface StartRecord {
  monitorPid: number;
  pid1: number;
  pid: number;
  pid1StartTime: number;
  startedAt: string;
}

export interface ExitRecord {
  exitCode: number;
  signal: number;
  startedAt: string;
  finishedAt: string;
  reason: "Completed" | "Error" | "StartError" | "OOMKilled" | "ContainerStatusUnknown" | string;
  message: string;
}

/** What the supervisor records of a container run, beside the monitor's own records. */
export interface RunRecord {
  containerID: string;
  logPath: string;
  monitorPid: number;
  /** /proc/<monitorPid>/stat field 22: tells the monitor from a process that reused its pid */
  monitorStartTime: number;
}

/** A pod's observed state as saved: observed.json in its run dir, ended.json in its state dir. */
export interface SavedPod<Observed = unknown> {
  uid: string;
  observed: Observed;
  /** refused by admission (ended.json only) */
  rejected?: boolean;
}

/** Where the monitor's stderr goes: beside its records, so that a successor daemon reads it. */
export function monitorLogPath(runDir: string): string {
  return join(runDir, "monitor.log");
}

export function readStartRecord(runDir: string): StartRecord | undefined {
  return readRecord<StartRecord>(join(runDir, "start.json"));
}

export function readExitRecord(runDir: string): ExitRecord | undefined {
  return readRecord<ExitRecord>(join(runDir, "exit.json"));
}

export function readRunRecord(runDir: string): RunRecord | undefined {
  return readRecord<RunRecord>(join(runDir, "run.json"));
}

/** Written by rename, without fsync: the run root does not outlive a reboot. */
export function writeRunRecord(runDir: string, record: RunRecord): void {
  writeFileAtomic(join(runDir, "run.json"), JSON.stringify(record) + "\n", 0o600, false);
}

/** What the monitor said on its stderr (one line when a container cannot start), or "". */
export function readMonitorLog(runDir: string): string {
  return readText(monitorLogPath(runDir)) ?? "";
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw PoddError.wrap(`read ${path}`, err);
  }
}

function readRecord<T>(path: string): T | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  // Every record is renamed into place complete, so a parse error is corruption, not a race.
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw PoddError.wrap(`parse ${path}`, err);
  }
}

/** The pod-level records, over a layout's roots. */
export class PodRecords {
  constructor(private readonly layout: Layout) {}

  /** Whether the pod has a run dir: its sandbox was made, and not removed since. */
  hasRunDir(p: PodRef): boolean {
    return existsSync(this.layout.podRunDir(p));
  }

  /** Whether a daemon recorded what it observed of the pod in this run root. */
  hasObserved(p: PodRef): boolean {
    return existsSync(this.layout.podObservedPath(p));
  }

  /**
   * Written by rename, without fsync (the run root is volatile by design: after a reboot the
   * pod starts afresh). A pod without a run dir (not started yet, or its sandbox gone and the
   * dir with it) is skipped, unless it must have one (its sandbox is up): then the write fails.
   */
  saveObserved(p: PodRef, saved: SavedPod, mustHaveRunDir: boolean): void {
    if (!mustHaveRunDir && !this.hasRunDir(p)) return;
    writeFileAtomic(this.layout.podObservedPath(p), JSON.stringify(saved) + "\n", 0o600, false);
  }

  /** The observed state saved for this pod (the same uid), if any. */
  readObserved<O>(p: PodRef): SavedPod<O> | undefined {
    return this.readSaved<O>(this.layout.podObservedPath(p), p.uid);
  }

  /** Durable: a pod that ended stays ended, whenever the daemon crashes or the machine reboots. */
  saveEnded(p: PodRef, saved: SavedPod): void {
    mkdirSync(this.layout.podStateDir(p), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.endedPath(p), JSON.stringify(saved) + "\n", 0o600);
  }

  readEnded<O>(p: PodRef): SavedPod<O> | undefined {
    return this.readSaved<O>(this.endedPath(p), p.uid);
  }

  private endedPath(p: PodRef): string {
    return join(this.layout.podStateDir(p), "ended.json");
  }

  private readSaved<O>(path: string, uid: string): SavedPod<O> | undefined {
    const saved = readRecord<SavedPod<O>>(path);
    return saved?.uid === uid ? saved : undefined;
  }
}
