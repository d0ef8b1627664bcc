using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Resilience;
using StackExchange.Redis;

namespace AgentPlatform.Router.Admin;

/// <summary>
/// The live state of every deployment as this Router replica sees it, for the Api's
/// <c>GET /admin/v1/deployments</c>. Breaker states agree across replicas (shared through Redis);
/// requests in flight, latency and error rate are this replica's. Never a provider key.
/// </summary>
public static class DeploymentsAdminApi
{
    public static IEndpointRouteBuilder MapDeploymentsAdminApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/admin/v1/deployments", ListDeployments)
            .WithTags("Admin")
            .WithName("ListDeployments")
            .WithSummary("Every deployment of every model group with its live state.");
        app.MapPost("/admin/v1/deployments/{group}/{name}/drain", DrainAsync)
            .WithTags("Admin")
            .WithName("DrainDeployment")
            .WithSummary("Takes a deployment out of rotation on every Router replica; requests in flight finish.");
        app.MapDelete("/admin/v1/deployments/{group}/{name}/drain", UndrainAsync)
            .WithTags("Admin")
            .WithName("UndrainDeployment")
            .WithSummary("Puts a drained deployment back into rotation on every Router replica.");
        return app;
    }

    /// <summary>The optional body of a drain: why, for whoever looks at the deployments next.</summary>
    public sealed record DrainRequest(string? Reason);

    private const int MaxReasonLength = 500;

    private static async Task DrainAsync(HttpContext context, string group, string name, ModelPool pool, DeploymentDrains drains, TimeProvider timeProvider)
    {
        DrainRequest? body = null;
        if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            try
            {
                body = await context.Request.ReadFromJsonAsync<DrainRequest>(context.RequestAborted);
            }
            catch (System.Text.Json.JsonException)
            {
                await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest, "The body must be JSON: {\"reason\": \"...\"}, or empty.", OpenAIError.InvalidRequest, "invalid_json");
                return;
            }
        }
        var reason = string.IsNullOrWhiteSpace(body?.Reason) ? null : body.Reason.Trim();
        if (reason is { Length: > MaxReasonLength })
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest, $"The reason may be at most {MaxReasonLength} characters.", OpenAIError.InvalidRequest, "invalid_value", "reason");
            return;
        }
        await ChangeAsync(context, group, name, pool, timeProvider, deployment => drains.DrainAsync(deployment, new DrainNote(timeProvider.GetUtcNow(), reason)));
    }

    private static Task UndrainAsync(HttpContext context, string group, string name, ModelPool pool, DeploymentDrains drains, TimeProvider timeProvider) =>
        ChangeAsync(context, group, name, pool, timeProvider, drains.UndrainAsync);

    private static async Task ChangeAsync(HttpContext context, string group, string name, ModelPool pool, TimeProvider timeProvider, Func<Deployment, Task> change)
    {
        if (!pool.TryGetGroup(group, out var modelGroup) || modelGroup.Deployments.FirstOrDefault(d => d.Name == name) is not { } deployment)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status404NotFound,
                $"No deployment '{name}' in model group '{group}'.", OpenAIError.NotFound, "deployment_not_found");
            return;
        }
        try
        {
            await change(deployment);
        }
        catch (RedisException)
        {
            // A drain must hold on every replica or be reported as not made: the caller can try again.
            await OpenAIError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                "Redis is unreachable, so the change could not be shared with every Router replica; try again.", OpenAIError.Server, "redis_unavailable");
            return;
        }
        await context.Response.WriteAsJsonAsync(Describe(modelGroup, deployment, timeProvider.GetUtcNow()), context.RequestAborted);
    }

    private static IResult ListDeployments(ModelPool pool, TimeProvider timeProvider)
    {
        var now = timeProvider.GetUtcNow();
        return TypedResults.Ok(new
        {
            @object = "list",
            data = pool.Groups.OrderBy(g => g.Name, StringComparer.Ordinal).SelectMany(group => group.Deployments.Select(d => Describe(group, d, now))),
        });
    }

    private static object Describe(ModelGroup group, Deployment deployment, DateTimeOffset now)
    {
        var (attempts, errorRate) = deployment.State.RecentOutcomes();
        var (requestsLeft, tokensLeft) = deployment.Headroom(now.ToUnixTimeMilliseconds());
        var breaker = deployment.Breaker;
        var coolDownUntil = new DateTimeOffset(deployment.State.CoolDownUntilTicks, TimeSpan.Zero);
        return new
        {
            modelGroup = group.Name,
            strategy = group.Strategy.Name,
            name = deployment.Name,
            provider = deployment.Provider,
            model = deployment.Model,
            priority = deployment.Priority,
            weight = deployment.Weight,
            available = deployment.IsAvailable(now.UtcTicks),
            drained = deployment.Drain is { } drain ? new { at = drain.At, reason = drain.Reason } : null,
            breaker = new
            {
                state = breaker.State switch { CircuitState.Open => "open", CircuitState.HalfOpen => "half_open", _ => "closed" },
                openUntil = breaker.State == CircuitState.Open ? breaker.OpenUntil : (DateTimeOffset?)null,
                breaks = breaker.Breaks,
            },
            coolingDownUntil = coolDownUntil > now ? coolDownUntil : (DateTimeOffset?)null,
            inFlight = deployment.State.InFlight,
            latencyEwmaMs = Math.Round(deployment.State.LatencyEwmaMs, 3),
            attemptsLastMinute = attempts,
            errorRateLastMinute = Math.Round(errorRate, 4),
            lastError = deployment.State.LatestError is { } error ? new { message = error.Message, at = error.At } : null,
            capacity = new
            {
                rpm = deployment.Rpm,
                rpmInUse = deployment.Rpm - requestsLeft is { } rpmUsed ? Math.Round(rpmUsed, 1) : (double?)null,
                tpm = deployment.Tpm,
                tpmInUse = deployment.Tpm - tokensLeft is { } tpmUsed ? Math.Round(tpmUsed) : (double?)null,
            },
            prices = new
            {
                inputPerMillion = deployment.InputPricePerMillion,
                cachedInputPerMillion = deployment.CachedInputPricePerMillion,
                outputPerMillion = deployment.OutputPricePerMillion,
            },
        };
    }
}
