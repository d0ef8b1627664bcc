using AgentPlatform.Contracts.Admin;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Contracts.Usage;
using AgentPlatform.Router.Pool;
using AgentPlatform.ServiceDefaults.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AgentPlatform.Router.Forwarding;

/// <summary>The Router's surface, called by the Api: chat completions and the model groups.</summary>
public static class RouterApi
{
    /// <summary>The Api enforces the client-facing limit; this only protects the Router itself.</summary>
    private const long MaxBodyBytes = 64 * 1024 * 1024;

    public static IEndpointRouteBuilder MapRouterApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("Router");
        // Written straight to the response stream, not through TypedResults: the answer is streamed
        // from the deployment as it arrives, and nothing is buffered or re-serialized on the way.
        api.MapPost("/chat/completions", ChatCompletionsAsync)
            .WithName("RouteChatCompletion")
            .WithSummary("Routes a chat completion to a deployment of its model group.");
        api.MapGet("/models", ListModels)
            .WithName("ListModelGroups")
            .WithSummary("Lists the model groups, in OpenAI's model list format.");
        api.MapGet("/model-groups/prices", ListWorstCasePrices)
            .WithName("ListWorstCasePrices")
            .WithSummary("Per model group, the highest prices and output limit of any deployment a request to it could reach.");
        return app;
    }

    private static async Task ChatCompletionsAsync(HttpContext context, ModelPool pool, ChatForwarder forwarder)
    {
        using var body = await PooledRequestBody.ReadAsync(context.Request, MaxBodyBytes, context.RequestAborted);
        if (body is null)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, $"The request body is larger than {MaxBodyBytes} bytes.", OpenAIError.InvalidRequest, "request_too_large");
            return;
        }

        var scan = ChatRequestScanner.Scan(body.Span);
        if (!scan.IsValid)
        {
            var (message, param) = ChatRequestScanner.Describe(scan.Problem);
            await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest, message, OpenAIError.InvalidRequest, param: param);
            return;
        }
        if (!pool.TryGetGroup(scan.Model!, out var group))
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status404NotFound, $"The model '{scan.Model}' does not exist.", OpenAIError.InvalidRequest, "model_not_found", "model");
            return;
        }

        await forwarder.ForwardAsync(context, group, body.Memory, scan);
    }

    /// <summary>
    /// What the Api reserves a request's budget against: the most expensive deployment of the group or
    /// of any group it falls back to (fallbacks are not transitive, so one level). <c>maxOutputTokens</c>
    /// is the largest any of them may write, null when one of them has no limit.
    /// </summary>
    private static Ok<ListOf<WorstCase>> ListWorstCasePrices(ModelPool pool) => TypedResults.Ok(ListOf.Of(pool.Groups.Select(group =>
    {
        var reachable = group.Fallbacks.Concat(group.ContextWindowFallbacks)
            .Select(name => pool.TryGetGroup(name, out var fallback) ? fallback : null)
            .Prepend(group)
            .SelectMany(g => g?.Deployments ?? [])
            .ToArray();
        return new WorstCase(
            group.Name,
            reachable.Max(d => d.InputPricePerMillion),
            reachable.Max(d => d.CachedInputPricePerMillion),
            reachable.Max(d => d.OutputPricePerMillion),
            reachable.All(d => d.MaxOutputTokens is not null) ? reachable.Max(d => d.MaxOutputTokens) : null);
    })));

    private static Ok<ModelList> ListModels(ModelPool pool) =>
        TypedResults.Ok(new ModelList([.. pool.Groups.OrderBy(g => g.Name, StringComparer.Ordinal).Select(g => new ModelEntry(g.Name))]));
}
