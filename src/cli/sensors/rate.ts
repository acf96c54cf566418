/**
 * A stream's sample rate from the samples' own timestamps (the phone's clock),
 * not from when they arrive: Wi-Fi delivers sensor samples in bursts after a
 * stall, and counting arrivals then reads 385 Hz for a 250 Hz sensor.
 */

/** Samples kept per stream: 1,024 times (8 KiB), several seconds at the fastest Android rates. */
const CAPACITY = 1024;
/** The rate is measured over the last 3 s of sample time (long enough for GPS at 1 Hz). */
const WINDOW_S = 3;
/** A stream that sent nothing for this long (wall clock) shows 0. */
const STALE_MS = 3000;

/** The recent sample times of one stream, in a fixed ring. */
export class SampleRate {
  private readonly times = new Float64Array(CAPACITY);
  private count = 0;
  private next = 0;
  private lastArrival = -Infinity;

  /**
   * Records a sample taken at `time` seconds (any origin: the phone's boot
   * clock), arriving at `arrival` ms (wall clock, only used to tell a stopped
   * stream). A time earlier than the newest is ignored (out of order).
   */
  add(time: number, arrival: number): void {
    this.lastArrival = arrival;
    if (this.count > 0 && time < this.times[(this.next + CAPACITY - 1) % CAPACITY]!) return;
    this.times[this.next] = time;
    this.next = (this.next + 1) % CAPACITY;
    if (this.count < CAPACITY) this.count++;
  }

  /**
   * Samples per second over the last few seconds of sample time (or the last
   * interval, for a stream slower than that), to 0.1; 0 before the second
   * sample, or once the stream has been quiet for longer than 3 s and 2.5
   * of its intervals.
   */
  rate(now: number): number {
    if (this.count < 2) return 0;
    const at = (back: number) => this.times[(this.next + CAPACITY - back) % CAPACITY]!;
    const newest = at(1);
    const lastInterval = newest - at(2);
    if (now - this.lastArrival > Math.max(STALE_MS, 2500 * lastInterval)) return 0;
    let oldest = at(2);
    let intervals = 1;
    for (let i = 3; i <= this.count && newest - at(i) <= WINDOW_S; i++) {
      oldest = at(i);
      intervals++;
    }
    if (newest === oldest) return 0;
    return Math.round((intervals / (newest - oldest)) * 10) / 10;
  }
}
