// CPU time of this process, in ms. The machines benches run on are shared: wall time stretches
// whenever another job takes the core, CPU time much less, so ratios use CPU time.

export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
