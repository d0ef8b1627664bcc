using AgentPlatform.Api.Access;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Pipeline;
using AgentPlatform.Api.Usage;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.ServiceDefaults.Http;
using AgentPlatform.Tokens;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Chat;

/// <summary>
/// Anthropic's Messages API, for Claude Code and Anthropic's SDKs: the same key (as <c>x-api-key</c> or
/// <c>Authorization: Bearer</c>), limits, budget, routing and usage record as a chat completion, with the
/// answer and every error in Anthropic's shape (<see cref="Contracts.Anthropic.AnthropicError"/>).
/// </summary>
public static class MessagesApi
{
    public static IEndpointRouteBuilder MapMessagesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/messages").WithTags("Anthropic").RequireAuthorization(AccessPolicies.Client);
        // Written straight to the response stream, as a chat completion is: the answer streams as it arrives.
        api.MapPost("", CreateAsync)
            .WithName("CreateMessage")
            .WithSummary("Creates a message (JSON or Anthropic's stream events) through the model pool.");
        api.MapPost("/count_tokens", CountTokensAsync)
            .WithName("CountMessageTokens")
            .WithSummary("Counts a Messages request's input tokens (the platform's estimate), without calling a model.");
        return app;
    }

    /// <summary>A message: the same stages as a chat completion, to a group whose deployments take Anthropic's Messages.</summary>
    private static Task CreateAsync(HttpContext context, ClientIdentity client, ChatPipeline pipeline) =>
        ChatCompletionsApi.RunWithoutAgentsAsync(context, client, pipeline, ModelApi.Messages);

    /// <summary>
    /// The request's input tokens as the platform estimates them for its limits (the model family's tokenizer,
    /// or o200k for a model whose tokenizer is not public, as Anthropic's is not): no model is called, nothing is
    /// recorded or spent. The model must be one the key may use and the pool has. Counting takes the key's and
    /// tenant's requests per minute, as a cache hit does (and a free concurrency slot, which it does not hold):
    /// tokenizing a body up to the size limit costs the Api real work, which no client may ask for without bound.
    /// </summary>
    private static async Task CountTokensAsync(
        HttpContext context, ClientIdentity client, PromptTokenEstimator estimator, PriceTable prices, RequestLimiter limiter, IOptions<ApiOptions> options)
    {
        var maxBytes = options.Value.MaxRequestBodyBytes;
        using var body = await PooledRequestBody.ReadOrDrainAsync(context, maxBytes);
        if (body is null)
        {
            await ChatRequestChecks.TooLarge(maxBytes).ExecuteAsync(context);
            return;
        }
        // Counting needs no max_tokens: every other check of a message applies.
        var scan = ChatRequestScanner.Scan(body.Span, ModelApi.Messages);
        if (!scan.IsValid && scan.Problem != ChatRequestProblem.MissingMaxTokens)
        {
            var (message, param) = ChatRequestScanner.Describe(scan.Problem);
            await OpenAIErrorResult.BadRequest(message, "invalid_request", param).ExecuteAsync(context);
            return;
        }
        var model = scan.Model!;
        if (!client.AllowsModel(model))
        {
            await ChatRequestChecks.NotAllowed(model).ExecuteAsync(context);
            return;
        }
        if (await prices.GetAsync(model, context.RequestAborted) is null && prices.IsKnown)
        {
            await OpenAIErrorResult.NotFound($"The model '{model}' does not exist.", "model_not_found").ExecuteAsync(context);
            return;
        }
        if (client.IsLimited && (await limiter.AcquireAsync(client, new Demand(0, CostNanoUsd: 0), context.Response.Headers, momentary: true)).Refusal is { } refusal)
        {
            await refusal.ExecuteAsync(context);
            return;
        }
        var (tokens, _) = estimator.EstimateMessages(body.Span, model);
        await TypedResults.Ok(new InputTokenCount(tokens)).ExecuteAsync(context);
    }
}

/// <summary>Anthropic's answer to <c>count_tokens</c>.</summary>
public sealed record InputTokenCount([property: System.Text.Json.Serialization.JsonPropertyName("input_tokens")] int InputTokens);
