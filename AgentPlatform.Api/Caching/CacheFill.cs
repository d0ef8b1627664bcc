namespace AgentPlatform.Api.Caching;

/// <summary>
/// A request's duty to store its answer: it holds the entry's fill lease (renewed while it lives) when
/// it won it, and disposing it without <see cref="StoreAsync"/> gives the fill up at once, so a request
/// waiting for it takes over.
/// </summary>
public sealed class CacheFill : IAsyncDisposable
{
    private readonly ResponseCache _cache;
    private readonly ResponseCache.Flight _flight;
    private readonly string? _token;
    private readonly CancellationTokenSource? _renewing;
    private bool _finished;

    internal CacheFill(ResponseCache cache, ResponseCache.Flight flight, string? token)
    {
        _cache = cache;
        _flight = flight;
        _token = token;
        if (token is not null)
        {
            _renewing = new CancellationTokenSource();
            _ = RenewWhileFillingAsync(token, _renewing.Token);
        }
    }

    /// <summary>Stores the answer for <paramref name="ttl"/> (less its jitter) and hands it to the requests waiting for it.</summary>
    public async Task StoreAsync(CachedAnswer answer, TimeSpan ttl)
    {
        if (_finished)
        {
            return;
        }
        _finished = true;
        StopRenewing();
        await _cache.StoreAsync(_flight, _token, answer, ttl);
    }

    public async ValueTask DisposeAsync()
    {
        if (_finished)
        {
            return;
        }
        _finished = true;
        StopRenewing();
        await _cache.ReleaseAsync(_flight, _token);
    }

    private void StopRenewing()
    {
        _renewing?.Cancel();
        _renewing?.Dispose();
    }

    private async Task RenewWhileFillingAsync(string token, CancellationToken cancellationToken)
    {
        try
        {
            using var timer = new PeriodicTimer(_cache.RenewInterval, _cache.TimeProvider);
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (!await _cache.RenewAsync(_flight.EntryKey, token))
                {
                    return; // lost (this replica stalled past it): another request fills; storing still helps
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
