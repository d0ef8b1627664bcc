using AgentPlatform.Api.Limits;

namespace AgentPlatform.Api.Caching;

/// <summary>
/// A request's duty to store its answer: it holds the entry's fill lease (renewed while it lives, by
/// <see cref="ResponseCache"/>) when it won it, and disposing it without <see cref="StoreAsync"/> gives
/// the fill up at once, so a request waiting for it takes over.
/// </summary>
public sealed class CacheFill : IAsyncDisposable
{
    private readonly ResponseCache _cache;
    private readonly ResponseCache.Flight _flight;
    private bool _finished;

    internal CacheFill(ResponseCache cache, ResponseCache.Flight flight, string? token)
    {
        _cache = cache;
        _flight = flight;
        Token = token;
        if (token is not null)
        {
            cache.Filling(this);
        }
    }

    internal string EntryKey => _flight.EntryKey;

    /// <summary>The fill lease's token; null when the request writes without one.</summary>
    internal string? Token { get; }

    /// <summary>Whether the fill was stored or given up.</summary>
    internal bool Finished => _finished;

    /// <summary>
    /// Stores the answer for <paramref name="ttl"/> (less its jitter) and hands it to the requests waiting for
    /// it; with the request's <paramref name="settlement"/> in the same script when there is one.
    /// </summary>
    internal async Task StoreAsync(CachedAnswer answer, TimeSpan ttl, Settlement? settlement)
    {
        if (_finished)
        {
            return;
        }
        _finished = true;
        await _cache.StoreAsync(_flight, this, answer, ttl, settlement);
    }

    public async ValueTask DisposeAsync()
    {
        if (_finished)
        {
            return;
        }
        _finished = true;
        await _cache.ReleaseAsync(_flight, this);
    }
}
