using AgentPlatform.Contracts.Http;
using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Router.Forwarding;

/// <summary>What the client hears when nothing more can be tried.</summary>
public sealed partial class ChatForwarder
{
    /// <summary>The answer when no attempt got one: why, with the status that tells the client what to do.</summary>
    private async Task WriteFailureAsync(ForwardingRequest request, AttemptResult last)
    {
        var context = request.Context;
        var group = request.Group;
        var now = NowTicks;
        var failure = request.LastFailure ?? "no deployment is available";
        if (request.OutOfRetryBudget)
        {
            failure += "; the group's retry budget is spent";
        }
        Log.AllDeploymentsFailed(_logger, group.Name, request.Attempts, failure);

        var earliest = group.EarliestAvailableTicks(now, request.Size);
        if (last.Status == AttemptStatus.Throttled || (last.Status == AttemptStatus.NoneAvailable && earliest > now))
        {
            SetRetryAfter(context, (earliest ?? now) - now);
            await OpenAIError.WriteAsync(context, StatusCodes.Status429TooManyRequests,
                $"Every deployment of model '{group.Name}' is rate limited: {failure}.", OpenAIError.RateLimit, "upstream_rate_limited");
        }
        else if (last.Status == AttemptStatus.NoneAvailable && earliest is null)
        {
            SetRetryAfter(context, (group.EarliestBreakEndTicks() ?? now) - now);
            await OpenAIError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                $"No deployment of model '{group.Name}' is available: each has failed repeatedly and is taken out of rotation for a while.",
                OpenAIError.Upstream, "upstream_unavailable");
        }
        else if (last.UpstreamStatus is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status502BadGateway,
                $"No deployment of model '{group.Name}' could answer: {failure}. The platform's operator must fix the deployment's provider credential.",
                OpenAIError.Upstream, "upstream_auth_failed");
        }
        else if (request.FailedAlikeEverywhere)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status502BadGateway,
                $"Every deployment of model '{group.Name}' tried failed this request alike ({failure}): the request itself may be what they cannot take. Check it before sending it again.",
                OpenAIError.Upstream, "upstream_request_failed");
        }
        else
        {
            var timedOut = last.Status == AttemptStatus.TimedOut;
            await OpenAIError.WriteAsync(context, timedOut ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway,
                $"No deployment of model '{group.Name}' could answer: {failure}.", OpenAIError.Upstream, timedOut ? "upstream_timeout" : "upstream_unavailable");
        }
    }

    private static void SetRetryAfter(HttpContext context, long ticks) =>
        context.Response.Headers.RetryAfter = RetryAfterHeader.Seconds(TimeSpan.FromTicks(ticks));
}
