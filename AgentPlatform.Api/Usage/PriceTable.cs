using System.Collections.Frozen;
using AgentPlatform.Api.Upstream;
using AgentPlatform.Contracts.Usage;

namespace AgentPlatform.Api.Usage;

/// <summary>
/// The Router's worst-case prices per model group, which budget reservations are made against.
/// Fetched on first need and refreshed in the background every <see cref="RefreshInterval"/>, so a
/// request never waits on it once it is known (and a price edit in the pool reaches budgets quickly).
/// </summary>
public sealed class PriceTable(RouterClient router, TimeProvider timeProvider, ILogger<PriceTable> logger)
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);

    private volatile Snapshot? _snapshot;
    private Task<Snapshot?>? _refresh;
    private readonly Lock _lock = new();

    private sealed record Snapshot(FrozenDictionary<string, WorstCase> Groups, long FetchedAt);

    /// <summary>Whether the prices have been read from the Router at least once.</summary>
    public bool IsKnown => _snapshot is not null;

    /// <summary>The group's worst case; null when the group is unknown or the Router cannot say (see <see cref="IsKnown"/>).</summary>
    public async ValueTask<WorstCase?> GetAsync(string model, CancellationToken cancellationToken)
    {
        var snapshot = _snapshot;
        if (snapshot is null || timeProvider.GetElapsedTime(snapshot.FetchedAt) > RefreshInterval)
        {
            var refresh = StartRefresh();
            // Serve what is known while it refreshes; wait only when nothing is known yet (or the group is new).
            if (snapshot is null || !snapshot.Groups.ContainsKey(model))
            {
                snapshot = await refresh.WaitAsync(cancellationToken) ?? snapshot;
            }
        }
        return snapshot?.Groups.GetValueOrDefault(model);
    }

    private Task<Snapshot?> StartRefresh()
    {
        lock (_lock)
        {
            if (_refresh is { IsCompleted: false } running)
            {
                return running;
            }
            return _refresh = RefreshAsync();
        }
    }

    private async Task<Snapshot?> RefreshAsync()
    {
        try
        {
            var list = await router.GetWorstCasePricesAsync(CancellationToken.None);
            var snapshot = new Snapshot(list.ToFrozenDictionary(w => w.Model, StringComparer.Ordinal), timeProvider.GetTimestamp());
            _snapshot = snapshot;
            return snapshot;
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException)
        {
            Log.PricesUnavailable(logger, exception);
            return null;
        }
    }
}
