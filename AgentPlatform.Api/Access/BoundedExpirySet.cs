using System.Collections.Concurrent;

namespace AgentPlatform.Api.Access;

/// <summary>
/// Strings that each hold until a moment (in the caller's clock), at most <c>capacity</c> of them: what
/// clients make up — keys that do not exist, addresses that keep failing — must not grow memory without
/// bound. Adding to a full set drops the lapsed entries; if it is still full (a flood of fresh ones), it
/// starts over rather than sweep at every add: each entry is learned again at its next use.
/// </summary>
public sealed class BoundedExpirySet(int capacity)
{
    private readonly ConcurrentDictionary<string, long> _until = new(StringComparer.Ordinal);

    public int Count => _until.Count;

    public bool IsEmpty => _until.IsEmpty;

    public void Add(string item, long until, long now)
    {
        if (_until.Count >= capacity)
        {
            foreach (var (held, heldUntil) in _until)
            {
                if (heldUntil <= now)
                {
                    _until.TryRemove(KeyValuePair.Create(held, heldUntil));
                }
            }
            if (_until.Count >= capacity)
            {
                _until.Clear();
            }
        }
        _until[item] = until;
    }

    /// <summary>Until when <paramref name="item"/> holds, if it still does at <paramref name="now"/>; a lapsed entry goes.</summary>
    public bool TryGetUntil(string item, long now, out long until)
    {
        if (_until.TryGetValue(item, out until))
        {
            if (until > now)
            {
                return true;
            }
            _until.TryRemove(KeyValuePair.Create(item, until));
        }
        until = 0;
        return false;
    }

    public void Clear() => _until.Clear();
}
