using AgentPlatform.Router.Configuration;

namespace AgentPlatform.Router.Resilience;

/// <summary>
/// Caps retries at a share of the requests over the last 10 seconds plus a small floor per second
/// (Finagle's retry budget). During an outage every request failing would otherwise be sent again
/// and again, multiplying the load on the deployments that are still up.
/// </summary>
public sealed class RetryBudget(RetryOptions options, TimeProvider timeProvider)
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    /// <summary>First: requests; second: retries.</summary>
    private readonly RollingCounts _counts = new(Window);

    /// <summary>Counts a request, which earns its share of retries.</summary>
    public void OnRequest()
    {
        lock (_lock)
        {
            _counts.Add(timeProvider.GetUtcNow().UtcTicks, 1, 0);
        }
    }

    /// <summary>Spends one retry if the budget allows it.</summary>
    public bool TryWithdraw()
    {
        var now = timeProvider.GetUtcNow().UtcTicks;
        lock (_lock)
        {
            var (requests, retries) = _counts.Sum(now);
            if (retries >= options.BudgetRatio * requests + options.BudgetMinPerSecond * Window.TotalSeconds)
            {
                return false;
            }
            _counts.Add(now, 0, 1);
            return true;
        }
    }
}
