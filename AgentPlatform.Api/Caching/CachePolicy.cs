using System.Globalization;
using AgentPlatform.Api.Access;
using Microsoft.Extensions.Primitives;

namespace AgentPlatform.Api.Caching;

/// <summary>What the response cache may do for one request.</summary>
/// <param name="Reads">Whether a stored answer may be served (not with <c>Cache-Control: no-cache</c>).</param>
/// <param name="Writes">Whether the answer may be stored (not with <c>Cache-Control: no-store</c>).</param>
/// <param name="Scope">Whose entries these are: the tenant's id, so no tenant is ever served another's answer.</param>
public readonly record struct CachePolicy(bool Reads, bool Writes, TimeSpan Ttl, int MaxEntryBytes, string Scope)
{
    public static readonly CachePolicy Bypass = default;

    /// <summary>Neither read nor written: the request goes upstream as if there were no cache.</summary>
    public bool Bypasses => !Reads && !Writes;

    /// <summary>
    /// The policy for a request: on or off and the TTL from the key, else its tenant, else the model
    /// group, else <see cref="CacheOptions"/> (a group turned off stays off); the request's
    /// <c>Cache-Control</c> and <see cref="ResponseCache.TtlHeader"/> can only narrow it. Null with a
    /// message when that header is not a whole number of seconds.
    /// </summary>
    public static (CachePolicy Policy, string? Error) For(HttpRequest request, ClientIdentity client, string model, CacheOptions options)
    {
        var group = options.ModelGroups.GetValueOrDefault(model);
        if (group?.Enabled == false
            || !(client.Key?.CacheEnabled ?? client.Tenant?.CacheEnabled ?? group?.Enabled ?? options.Enabled))
        {
            return (Bypass, null);
        }
        var ttlSeconds = client.Key?.CacheTtlSeconds ?? client.Tenant?.CacheTtlSeconds ?? group?.TtlSeconds ?? options.TtlSeconds;
        if (request.Headers.TryGetValue(ResponseCache.TtlHeader, out var ttlHeader))
        {
            if (!int.TryParse(ttlHeader, NumberStyles.None, CultureInfo.InvariantCulture, out var asked) || asked < 1)
            {
                return (Bypass, $"The {ResponseCache.TtlHeader} header must be a whole number of seconds, at least 1.");
            }
            ttlSeconds = Math.Min(ttlSeconds, asked);
        }
        var (noCache, noStore) = CacheControl(request.Headers.CacheControl);
        return (new CachePolicy(
            Reads: !noCache,
            Writes: !noStore,
            TimeSpan.FromSeconds(ttlSeconds),
            group?.MaxEntryBytes ?? options.MaxEntryBytes,
            client.Tenant?.Id ?? "master"), null);
    }

    private static (bool NoCache, bool NoStore) CacheControl(StringValues header)
    {
        var (noCache, noStore) = (false, false);
        foreach (var value in header)
        {
            foreach (var directive in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                noCache |= directive.Equals("no-cache", StringComparison.OrdinalIgnoreCase);
                noStore |= directive.Equals("no-store", StringComparison.OrdinalIgnoreCase);
            }
        }
        return (noCache, noStore);
    }
}
