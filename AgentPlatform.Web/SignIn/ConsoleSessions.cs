using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using AgentPlatform.Web.Platform;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Web.SignIn;

/// <summary>
/// What keeps a console session honest after sign-in. A session's cookie carries a stamp of the admin
/// credential it was opened with (a hash, never the credential) and when it was opened: it ends when
/// the credential changes (rotated in configuration) or when anyone signs out — the console has one
/// identity, so signing out ends every session of it. Checked on every request and, for a page's
/// live circuit, every <see cref="ConsoleAuthenticationStateProvider.Interval"/>. Also: failed
/// sign-ins per client address, refused for a while past <see cref="MaxFailures"/>.
/// </summary>
/// <remarks>
/// Kept in this process (the console runs as one replica); a restart forgets the sign-outs, but
/// published, the cookies' data-protection keys are the container's and go with it too.
/// </remarks>
public sealed class ConsoleSessions(IOptionsMonitor<ConsoleOptions> options, TimeProvider timeProvider)
{
    public const string StampClaim = "agentplatform:credential-stamp";
    public const string OpenedClaim = "agentplatform:opened";

    public const int MaxFailures = 5;
    public static readonly TimeSpan FailureWindow = TimeSpan.FromMinutes(5);
    private const int MaxTrackedAddresses = 10_000;

    private readonly ConcurrentDictionary<string, (int Count, long WindowEnds)> _failures = new(StringComparer.Ordinal);
    private long _endedBefore;

    /// <summary>The claims a new session carries.</summary>
    public IEnumerable<Claim> ClaimsOfNewSession() =>
    [
        new(StampClaim, Stamp(options.CurrentValue.AdminCredentialOrMasterKey)),
        new(OpenedClaim, timeProvider.GetUtcNow().UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    ];

    /// <summary>Whether a session is still good: opened with today's credential, and after the last sign-out.</summary>
    public bool IsValid(ClaimsPrincipal user) =>
        user.FindFirst(StampClaim)?.Value is { } stamp
        && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(stamp), Encoding.ASCII.GetBytes(Stamp(options.CurrentValue.AdminCredentialOrMasterKey)))
        && long.TryParse(user.FindFirst(OpenedClaim)?.Value, out var opened)
        && opened >= Interlocked.Read(ref _endedBefore);

    /// <summary>Ends every session opened until now.</summary>
    public void EndAll() => Interlocked.Exchange(ref _endedBefore, timeProvider.GetUtcNow().UtcTicks + 1);

    /// <summary>How long sign-ins from this address are refused; null when they are not.</summary>
    public TimeSpan? SignInRefusedFor(string address)
    {
        var now = timeProvider.GetUtcNow().UtcTicks;
        return _failures.TryGetValue(address, out var failures) && failures.Count >= MaxFailures && failures.WindowEnds > now
            ? TimeSpan.FromTicks(failures.WindowEnds - now)
            : null;
    }

    public void OnFailedSignIn(string address)
    {
        var now = timeProvider.GetUtcNow().UtcTicks;
        if (_failures.Count >= MaxTrackedAddresses)
        {
            _failures.Clear(); // a flood from many addresses: start over rather than grow
        }
        _failures.AddOrUpdate(address, _ => (1, now + FailureWindow.Ticks),
            (_, failures) => failures.WindowEnds > now ? (failures.Count + 1, failures.WindowEnds) : (1, now + FailureWindow.Ticks));
    }

    private static string Stamp(string credential) =>
        Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes("agentplatform-console-session:" + credential)).AsSpan(0, 16));
}
