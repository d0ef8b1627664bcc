using AgentPlatform.Contracts.Admin;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Contracts.Usage;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Pool;
using AgentPlatform.ServiceDefaults.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AgentPlatform.Router.Forwarding;

/// <summary>The Router's surface, called by the Api: chat completions, embeddings, Anthropic messages and the model groups.</summary>
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
        api.MapPost("/embeddings", EmbeddingsAsync)
            .WithName("RouteEmbeddings")
            .WithSummary("Routes an embeddings request to a deployment of its (embeddings) model group.");
        api.MapPost("/messages", MessagesAsync)
            .WithName("RouteMessages")
            .WithSummary("Routes an Anthropic Messages request to a deployment of its model group (passed through to Anthropic's, translated for the others).");
        api.MapPost("/responses", ResponsesAsync)
            .WithName("RouteResponse")
            .WithSummary("Routes an OpenAI Responses request to a deployment of its model group (translated through Chat Completions).");
        api.MapGet("/models", ListModels)
            .WithName("ListModelGroups")
            .WithSummary("Lists the model groups, in OpenAI's model list format.");
        api.MapGet("/model-groups/prices", ListWorstCasePrices)
            .WithName("ListWorstCasePrices")
            .WithSummary("Per model group, the highest prices and output limit of any deployment a request to it could reach.");
        return app;
    }

    private static Task ChatCompletionsAsync(HttpContext context, ModelPool pool, ChatForwarder forwarder) =>
        RouteAsync(context, pool, forwarder, ModelApi.ChatCompletions);

    private static Task EmbeddingsAsync(HttpContext context, ModelPool pool, ChatForwarder forwarder) =>
        RouteAsync(context, pool, forwarder, ModelApi.Embeddings);

    private static Task MessagesAsync(HttpContext context, ModelPool pool, ChatForwarder forwarder) =>
        RouteAsync(context, pool, forwarder, ModelApi.Messages);

    private static Task ResponsesAsync(HttpContext context, ModelPool pool, ChatForwarder forwarder) =>
        RouteAsync(context, pool, forwarder, ModelApi.Responses);

    /// <summary>Checks the request and hands it to its group, which must answer the kind of request it is.</summary>
    private static async Task RouteAsync(HttpContext context, ModelPool pool, ChatForwarder forwarder, ModelApi api)
    {
        using var body = await PooledRequestBody.ReadAsync(context.Request, MaxBodyBytes, context.RequestAborted);
        if (body is null)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, $"The request body is larger than {MaxBodyBytes} bytes.", OpenAIError.InvalidRequest, "request_too_large");
            return;
        }

        var scan = ChatRequestScanner.Scan(body.Span, api);
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

        var kind = api.Embeds() ? DeploymentKinds.Embeddings : DeploymentKinds.Chat;
        if (group.Kind != kind)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest,
                $"The model '{scan.Model}' answers {group.Kind} requests, not {kind}: call {(api.Embeds() ? "/v1/chat/completions, /v1/messages or /v1/responses" : "/v1/embeddings")} for it.",
                OpenAIError.InvalidRequest, "model_kind_mismatch", "model");
            return;
        }

        await forwarder.ForwardAsync(context, group, body.Memory, scan, api);
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
            // A prompt token costs the most when it is written to the provider's cache, where that is dearer.
            reachable.Max(d => Math.Max(d.InputPricePerMillion, d.CacheWriteInputPricePerMillion ?? 0)),
            reachable.Max(d => d.CachedInputPricePerMillion),
            reachable.Max(d => d.OutputPricePerMillion),
            reachable.All(d => d.MaxOutputTokens is not null) ? reachable.Max(d => d.MaxOutputTokens) : null);
    })));

    private static Ok<ModelList> ListModels(ModelPool pool) =>
        TypedResults.Ok(new ModelList([.. pool.Groups.OrderBy(g => g.Name, StringComparer.Ordinal).Select(g => new ModelEntry(g.Name, Endpoints: DoorsOf(g)))]));

    private static readonly string[] ChatDoors = ["/v1/chat/completions", "/v1/messages", "/v1/responses"];
    private static readonly string[] EmbeddingsDoors = ["/v1/embeddings"];

    /// <summary>The Api's doors that answer a group: what a client may call it through (every provider is translated to both chat doors).</summary>
    private static string[] DoorsOf(ModelGroup group) => group.Kind == DeploymentKinds.Embeddings ? EmbeddingsDoors : ChatDoors;
}
