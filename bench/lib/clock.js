/**
 * What a micro-benchmark's time is measured with. Default `cpu`: this process's CPU time
 * (`process.cpuUsage()`, user + system, µs resolution, ~3–6 µs a read), so time the process spends
 * descheduled on a shared, loaded machine does not count. It includes V8's helper threads (GC,
 * compiler), which are part of a call's cost. Each read lands once per batch of 4,096 calls, so its
 * own cost is ~1–2 ns a call. `wall` (`performance.now()`) is mitata's default, for a quiet machine.
 */
export const CLOCKS = {
  cpu: () => {
    const u = process.cpuUsage();
    return (u.user + u.system) * 1000;
  },
  wall: () => performance.now() * 1e6,
};
