using AgentPlatform.Contracts.Http;
using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Api.Access;

/// <summary>
/// What a client whose credential is not accepted is told: 401 for a missing, wrong, revoked or expired
/// key; 429 for an address turned away for its failures; 503 when keys cannot be checked. Every refusal
/// but the last is counted against the address when it is answered (<see cref="KeyAuthenticationHandler"/>).
/// </summary>
public static class AccessRefusal
{
    public static readonly OpenAIErrorResult Missing = Unauthorized("You didn't provide an API key. Send it as 'Authorization: Bearer <key>' (or 'x-api-key: <key>').", "missing_api_key");

    public static readonly OpenAIErrorResult Invalid = Unauthorized("Incorrect API key provided.", "invalid_api_key");

    public static readonly OpenAIErrorResult Unavailable = OpenAIErrorResult.Unavailable("API keys cannot be checked right now; try again shortly.", "keys_unavailable");

    public static OpenAIErrorResult Unauthorized(string message, string code) =>
        new(StatusCodes.Status401Unauthorized, message, OpenAIError.Authentication, code);

    public static OpenAIErrorResult TurnedAway(TimeSpan wait) =>
        new(StatusCodes.Status429TooManyRequests, "Too many requests from this address failed authentication; wait before trying again.",
            OpenAIError.RateLimit, FailedAuthentications.TooManyFailuresCode)
        {
            Headers = [new(RetryAfterHeader.Name, RetryAfterHeader.Seconds(wait))],
        };

    /// <summary>Whether the refusal counts as a failed authentication of its address (all but "keys cannot be checked").</summary>
    public static bool CountsAsFailure(OpenAIErrorResult refusal) => refusal.StatusCode != StatusCodes.Status503ServiceUnavailable;
}
