using System.Globalization;

namespace AgentPlatform.Contracts.Http;

/// <summary>
/// The <c>Retry-After</c> header as the Api and the Router send it: whole seconds, rounded up and at
/// least 1 (a client that reads 0 tries again at once, into the same refusal).
/// </summary>
public static class RetryAfterHeader
{
    public const string Name = "Retry-After";

    public static string Seconds(TimeSpan wait) => Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}
