using System.Security.Cryptography;
using System.Text;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Contracts.OpenAI;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Keys;

/// <summary>
/// Checks the bearer key of a request. For now the master key is the only key; virtual keys replace it
/// as the client credential in the tenancy issue. Keys are compared as SHA-256 hashes in constant time,
/// so neither the content nor the length of the key leaks through timing.
/// </summary>
public sealed class MasterKeyAuthenticator(IOptions<ApiOptions> options, FailedAuthentications failures)
{
    private readonly byte[] _masterKeyHash = SHA256.HashData(Encoding.UTF8.GetBytes(options.Value.MasterKey));

    public AuthenticationOutcome Authenticate(HttpRequest request)
    {
        var header = request.Headers.Authorization;
        if (header.Count == 0 || string.IsNullOrEmpty(header[0]))
        {
            return AuthenticationOutcome.Missing;
        }
        var value = header[0].AsSpan();
        const string Scheme = "Bearer ";
        if (!value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticationOutcome.Invalid;
        }
        var key = value[Scheme.Length..].Trim();
        return Matches(key) ? AuthenticationOutcome.Valid : AuthenticationOutcome.Invalid;
    }

    /// <summary>True when the request carries the key; otherwise answers the 401 (missing or wrong key) and returns false.</summary>
    /// <remarks>
    /// An address turned away for its failed authentications (<see cref="FailedAuthentications"/>) is
    /// refused even the right key until its window ends: the master key may be one a person chose, and a
    /// guess that is let through when right is a guess that can be made.
    /// </remarks>
    public async ValueTask<bool> AuthenticateAsync(HttpContext context)
    {
        if (failures.RetryAfter(context) is { } wait)
        {
            await failures.TurnAwayAsync(context, wait);
            return false;
        }
        var (message, code) = Authenticate(context.Request) switch
        {
            AuthenticationOutcome.Valid => (null, null),
            AuthenticationOutcome.Missing => ("You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.", "missing_api_key"),
            _ => ("Incorrect API key provided.", "invalid_api_key"),
        };
        if (code is null)
        {
            return true;
        }
        await failures.OnFailureAsync(context, code);
        await OpenAIError.WriteAsync(context, StatusCodes.Status401Unauthorized, message!, OpenAIError.Authentication, code);
        return false;
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

public enum AuthenticationOutcome
{
    Valid,
    Missing,
    Invalid,
}
