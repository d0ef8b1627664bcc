using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace AgentPlatform.ServiceDefaults.Security;

/// <summary>
/// A shared secret a caller presents as <c>Authorization: Bearer &lt;secret&gt;</c> (the internal key
/// at the Router, the scrape key at <c>/metrics</c>), checked in constant time and without allocating:
/// it is on every request the Router serves.
/// </summary>
public sealed class BearerCredential
{
    /// <summary>Longer headers are refused unread: no credential of ours is near this long.</summary>
    private const int MaxHeaderLength = 1024;

    private readonly byte[] _expected;

    public BearerCredential(string secret)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(secret);
        var header = "Bearer " + secret;
        if (header.Length > MaxHeaderLength)
        {
            throw new ArgumentException($"A bearer credential may be at most {MaxHeaderLength - 7} characters.", nameof(secret));
        }
        _expected = Encoding.UTF8.GetBytes(header);
    }

    /// <summary>Whether the request's <c>Authorization</c> header is exactly this credential.</summary>
    public bool IsPresentedBy(HttpRequest request)
    {
        var values = request.Headers.Authorization;
        if (values.Count != 1 || values[0] is not { } header || header.Length > MaxHeaderLength)
        {
            return false;
        }
        Span<byte> presented = stackalloc byte[Encoding.UTF8.GetMaxByteCount(header.Length)];
        var length = Encoding.UTF8.GetBytes(header, presented);
        // Compares every byte whatever the first difference is; only the length can be learnt by timing.
        return CryptographicOperations.FixedTimeEquals(presented[..length], _expected);
    }
}
