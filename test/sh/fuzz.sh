#!/usr/bin/env bash
# test/sh/fuzz.sh — short libFuzzer pass (20 s per target, run in parallel)
# over the C parsing cores; fails on any crash or oracle failure.
exec "$(dirname "$0")/../fuzz/run.sh" 20
