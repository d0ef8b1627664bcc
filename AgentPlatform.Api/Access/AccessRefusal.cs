using System.Globalization;
using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Api.Access;

/// <summary>
/// Why a request's credential was not accepted, as the client is told it: 401 for a missing, wrong,
/// revoked or expired key; 429 for an address turned away for its failures; 503 when keys cannot be
/// checked. Every refusal but the last is counted against the address (<see cref="FailedAuthentications"/>).
/// </summary>
public sealed record AccessRefusal(int Status, string Message, string Type, string Code, TimeSpan? RetryAfter = null)
{
    public static readonly AccessRefusal Missing = Unauthorized("You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.", "missing_api_key");

    public static readonly AccessRefusal Invalid = Unauthorized("Incorrect API key provided.", "invalid_api_key");

    public static readonly AccessRefusal Unavailable = new(StatusCodes.Status503ServiceUnavailable,
        "API keys cannot be checked right now; try again shortly.", OpenAIError.Server, "keys_unavailable", TimeSpan.FromSeconds(1));

    public static AccessRefusal Unauthorized(string message, string code) => new(StatusCodes.Status401Unauthorized, message, OpenAIError.Authentication, code);

    public static AccessRefusal TurnedAway(TimeSpan wait) => new(StatusCodes.Status429TooManyRequests,
        "Too many requests from this address failed authentication; wait before trying again.", OpenAIError.RateLimit, FailedAuthentications.TooManyFailuresCode, wait);

    /// <summary>Counts the refusal (unless keys could not be checked at all) and answers it.</summary>
    public async Task WriteAsync(HttpContext context, FailedAuthentications failures)
    {
        if (Status != StatusCodes.Status503ServiceUnavailable)
        {
            await failures.OnFailureAsync(context, Code);
        }
        if (RetryAfter is { } wait)
        {
            context.Response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }
        await OpenAIError.WriteAsync(context, Status, Message, Type, Code);
    }
}
