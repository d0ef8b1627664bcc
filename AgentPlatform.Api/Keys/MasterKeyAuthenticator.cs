using System.Security.Cryptography;
using System.Text;
using AgentPlatform.ServiceDefaults.OpenAI;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Keys;

/// <summary>
/// Checks the bearer key of a request. For now the master key is the only key; virtual keys replace it
/// as the client credential in the tenancy issue. Keys are compared as SHA-256 hashes in constant time,
/// so neither the content nor the length of the key leaks through timing.
/// </summary>
public sealed class MasterKeyAuthenticator(IOptions<ApiOptions> options)
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
    public async ValueTask<bool> AuthenticateAsync(HttpContext context)
    {
        switch (Authenticate(context.Request))
        {
            case AuthenticationOutcome.Valid:
                return true;
            case AuthenticationOutcome.Missing:
                await OpenAIError.WriteAsync(context, StatusCodes.Status401Unauthorized,
                    "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.", OpenAIError.Authentication, "missing_api_key");
                return false;
            default:
                await OpenAIError.WriteAsync(context, StatusCodes.Status401Unauthorized,
                    "Incorrect API key provided.", OpenAIError.Authentication, "invalid_api_key");
                return false;
        }
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
