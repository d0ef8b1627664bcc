using System.Security.Cryptography;
using System.Text;
using AgentPlatform.Contracts.OpenAI;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Access;

/// <summary>
/// Checks the master key, the admin API's credential. Keys are compared as SHA-256 hashes in constant
/// time, so neither the content nor the length of the key leaks through timing.
/// </summary>
public sealed class MasterKeyAuthenticator(IOptions<ApiOptions> options, FailedAuthentications failures)
{
    private readonly byte[] _masterKeyHash = SHA256.HashData(Encoding.UTF8.GetBytes(options.Value.MasterKey));

    /// <summary>Null when the request carries the master key; otherwise why it is refused (missing or wrong key).</summary>
    /// <remarks>
    /// An address turned away for its failed authentications (<see cref="FailedAuthentications"/>) is
    /// refused even the right key until its window ends: the master key may be one a person chose, and a
    /// guess that is let through when right is a guess that can be made.
    /// </remarks>
    public OpenAIErrorResult? Authenticate(HttpContext context)
    {
        if (failures.RetryAfter(context) is { } wait)
        {
            return AccessRefusal.TurnedAway(wait);
        }
        var header = context.Request.Headers.Authorization;
        if (header.Count == 0 || string.IsNullOrEmpty(header[0]))
        {
            return AccessRefusal.Missing;
        }
        var value = header[0].AsSpan();
        const string Scheme = "Bearer ";
        return value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) && Matches(value[Scheme.Length..].Trim()) ? null : AccessRefusal.Invalid;
    }

    /// <summary>Whether <paramref name="key"/> is the master key, compared as SHA-256 hashes in constant time.</summary>
    public bool IsMasterKey(ReadOnlySpan<char> key) => Matches(key);

    private bool Matches(ReadOnlySpan<char> key)
    {
        if (key.IsEmpty || key.Length > 512)
        {
            return false;
        }
        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(key.Length)];
        var length = Encoding.UTF8.GetBytes(key, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], hash);
        return CryptographicOperations.FixedTimeEquals(hash, _masterKeyHash);
    }
}
