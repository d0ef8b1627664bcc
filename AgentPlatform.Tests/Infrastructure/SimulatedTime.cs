namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// A clock that moves only when a simulator waits, for a test about what a service measures in time
/// (the Router's latency samples) that must not depend on how busy the test machine is. Its two views
/// read the same time: simulators get <see cref="Waiting"/>, whose waits end at once and move the clock
/// on by what they waited; the service under test gets <see cref="Measuring"/>, which reads that time
/// but keeps real timers, so its timeouts neither fire early nor hang. With requests one at a time, a
/// simulator's 30 ms answer is measured as exactly 30 ms however long the machine took to deliver it.
/// </summary>
public sealed class SimulatedTime
{
    private readonly DateTimeOffset _start = DateTimeOffset.UtcNow;
    private long _ticks;

    public SimulatedTime()
    {
        Measuring = new MeasuringView(this);
        Waiting = new WaitingView(this);
    }

    public TimeProvider Measuring { get; }

    public TimeProvider Waiting { get; }

    private long Ticks => Interlocked.Read(ref _ticks);

    private void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

    private class MeasuringView(SimulatedTime time) : TimeProvider
    {
        protected SimulatedTime Time => time;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => time.Ticks;

        public override DateTimeOffset GetUtcNow() => time._start.AddTicks(time.Ticks);
    }

    private sealed class WaitingView(SimulatedTime time) : MeasuringView(time)
    {
        /// <summary>
        /// A one-shot wait (what <c>Task.Delay</c> asks for) fires at once, on a real timer's thread as
        /// any timer would, after moving the clock on by its due time. A wait without end (a hung
        /// answer) stays one.
        /// </summary>
        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (period != Timeout.InfiniteTimeSpan)
            {
                throw new NotSupportedException("A simulated wait is one-shot: a periodic timer has no place in it.");
            }
            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                return System.CreateTimer(callback, state, dueTime, period);
            }
            return System.CreateTimer(s =>
            {
                Time.Advance(dueTime);
                callback(s);
            }, state, TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }
}
