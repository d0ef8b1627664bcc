namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// The one way a test waits for what happens in its own time (a record written after the answer, a
/// replica learning of a change): it reads again until the value is what it waits for, and fails
/// naming what it waited for when the named timeout ends. Read often, so a wait costs what the thing
/// takes; the timeouts are generous, as a loaded CI machine needs, and fail only a broken platform.
/// </summary>
public static class Eventually
{
    /// <summary>What one process does for another over Redis or HTTP: a ledger write, a pub/sub message, a slot given back.</summary>
    public static readonly TimeSpan Soon = TimeSpan.FromSeconds(10);

    /// <summary>What a whole AppHost does, or a platform under the suite's load: processes behind proxies, exporters with their own intervals.</summary>
    public static readonly TimeSpan Slowly = TimeSpan.FromSeconds(90);

    private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(50);

    /// <summary>Reads <paramref name="read"/> until <paramref name="done"/> says yes; its last value.</summary>
    /// <param name="describe">How a failure shows the last value (by default its <c>ToString</c>; a collection's count).</param>
    public static async Task<T> ReadAsync<T>(Func<Task<T>> read, Func<T, bool> done, string waitingFor, TimeSpan? timeout = null, Func<T, string>? describe = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Soon);
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Waited {timeout ?? Soon} for {waitingFor}; the last value was {(describe is not null ? describe(value) : value is System.Collections.ICollection items ? $"{items.Count} items" : value)}.");
            }
            await Task.Delay(Every);
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds.</summary>
    public static Task TrueAsync(Func<Task<bool>> condition, string waitingFor, TimeSpan? timeout = null) =>
        ReadAsync(condition, holds => holds, waitingFor, timeout);

    /// <summary>Waits until <paramref name="condition"/> (read here, in memory) holds.</summary>
    public static Task TrueAsync(Func<bool> condition, string waitingFor, TimeSpan? timeout = null) =>
        ReadAsync(() => Task.FromResult(condition()), holds => holds, waitingFor, timeout);
}
