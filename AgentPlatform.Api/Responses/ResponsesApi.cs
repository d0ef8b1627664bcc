using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgentPlatform.Api.Access;
using AgentPlatform.Api.Chat;
using AgentPlatform.Api.Pipeline;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Redis;
using AgentPlatform.ServiceDefaults.Http;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Responses;

/// <summary>
/// OpenAI's Responses API, for Codex and the OpenAI Agents SDK: the same key, limits, budget, cache, routing and
/// usage record as a chat completion (the Router passes it to deployments with the Responses API and says it to the
/// others through Chat Completions), with the platform keeping the conversation — a response is stored for its owner unless <c>store</c> is false, read
/// back by <c>GET</c>, deleted by <c>DELETE</c>, and continued by <c>previous_response_id</c>.
/// </summary>
public static class ResponsesApi
{
    /// <summary>The most of a response's answer kept to store it (its stream's events are larger than the response).</summary>
    private const int MaxCapturedBytes = 32 * 1024 * 1024;

    public static IEndpointRouteBuilder MapResponsesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/responses").WithTags("OpenAI").RequireAuthorization(AccessPolicies.Client);
        api.MapPost("", CreateAsync)
            .WithName("CreateResponse")
            .WithSummary("Creates a response (JSON or the Responses API's stream events) through the model pool, stored unless store is false.");
        api.MapGet("/{id}", GetAsync)
            .WithName("GetResponse")
            .WithSummary("A stored response of this key's tenant.");
        api.MapDelete("/{id}", DeleteAsync)
            .WithName("DeleteResponse")
            .WithSummary("Deletes a stored response of this key's tenant.");
        return app;
    }

    private static async Task CreateAsync(
        HttpContext context, ClientIdentity client, ChatPipeline pipeline, ResponseStore store, IOptions<ApiOptions> options, TimeProvider timeProvider, ILoggerFactory loggers)
    {
        await using var call = pipeline.Start(context, client, ModelApi.Responses);
        if (!await ChatCompletionsApi.ReadWithoutAgentsAsync(call, pipeline))
        {
            return;
        }
        var request = (JsonObject)JsonNode.Parse(call.Body.Span)!;
        var owner = ResponseStore.OwnerOf(client);
        var input = Items(request["input"]);
        var previousId = request["previous_response_id"] is JsonValue previous && previous.GetValueKind() == JsonValueKind.String ? previous.GetValue<string>() : null;
        var stores = request["store"] is not JsonValue storeFlag || storeFlag.GetValueKind() != JsonValueKind.False;
        var limits = options.Value;
        var logger = loggers.CreateLogger(typeof(ResponsesApi));
        if (previousId is not null || stores)
        {
            // One script: the conversation so far (when continued) and what the owner stores in all.
            Conversation conversation;
            try
            {
                conversation = await store.WalkAsync(owner, previousId, 2 * limits.MaxRequestBodyBytes);
            }
            catch (Exception exception) when (RedisFailure.IsAnyButCancellation(exception))
            {
                Log.ResponseStoreUnavailable(logger, exception);
                if (previousId is not null)
                {
                    await StoreUnavailable.ExecuteAsync(context);
                    return;
                }
                // Nothing to read but the sum: the response is answered, and its storing will say if Redis is still away.
                conversation = new(ConversationWalk.Found, null, [], 0);
            }
            if (Refusal(conversation, previousId, stores, limits) is { } refusal)
            {
                await refusal.ExecuteAsync(context);
                return;
            }
            if (previousId is not null)
            {
                // The conversation so far, then this turn: what the deployment is sent.
                request["input"] = new JsonArray([.. conversation.Turns.SelectMany(turn => turn.Input.Select(item => item?.DeepClone()).Concat(OutputAsInput(turn.Response))),
                    .. input.Select(item => item?.DeepClone())]);
                request.Remove("previous_response_id");
                var expanded = JsonSerializer.SerializeToUtf8Bytes(request);
                if (expanded.Length > limits.MaxRequestBodyBytes)
                {
                    await ConversationTooLarge(limits).ExecuteAsync(context);
                    return;
                }
                call.ReplaceBody(PooledRequestBody.Of(expanded));
            }
        }
        call.Keeper = new ResponseKeeper(store, owner, input, previousId, stores, timeProvider, logger);
        if (stores)
        {
            call.Answer.CaptureUpTo(MaxCapturedBytes);
        }
        await pipeline.CompleteAsync(call);
    }

    /// <summary>Why the conversation cannot go on, or the response cannot be stored; null when it can.</summary>
    private static OpenAIErrorResult? Refusal(Conversation conversation, string? previousId, bool stores, ApiOptions limits) =>
        conversation.Outcome switch
        {
            ConversationWalk.Missing => new OpenAIErrorResult(StatusCodes.Status404NotFound,
                conversation.At == previousId
                    ? $"Previous response with id '{previousId}' not found."
                    : $"Previous response with id '{previousId}' cannot be continued: the conversation's earlier response '{conversation.At}' was deleted or has expired.",
                OpenAIError.InvalidRequest, "previous_response_not_found", "previous_response_id"),
            ConversationWalk.TooLarge => ConversationTooLarge(limits),
            _ when stores && conversation.OwnerStoredBytes >= limits.ResponsesMaxStoredBytes => OpenAIErrorResult.BadRequest(
                $"The stored responses take {conversation.OwnerStoredBytes} bytes, the limit of {limits.ResponsesMaxStoredBytes}: delete some (DELETE /v1/responses/{{id}}), "
                + "wait for them to expire, or send \"store\": false.", "stored_responses_limit_reached", "store"),
            _ => null,
        };

    private static readonly OpenAIErrorResult StoreUnavailable = OpenAIErrorResult.Unavailable(
        "The stored responses cannot be read right now, so the conversation cannot be continued; try again shortly.", "response_store_unavailable");

    private static OpenAIErrorResult ConversationTooLarge(ApiOptions limits) => OpenAIErrorResult.BadRequest(
        $"The conversation with the previous responses is larger than the limit of {limits.MaxRequestBodyBytes} bytes; start a new one.",
        "context_length_exceeded", "previous_response_id");

    /// <summary>
    /// One request's response, kept for the conversation that follows it: stored (unless <c>store</c> is false)
    /// with its own turn's input and the response it continued, and — when it comes from the cache — given its own id first.
    /// </summary>
    private sealed class ResponseKeeper(
        ResponseStore store, string owner, JsonArray input, string? previousId, bool stores, TimeProvider timeProvider, ILogger logger) : IAnswerKeeper
    {
        public byte[] OwnCachedAnswer(ReadOnlySpan<byte> cached)
        {
            var response = (JsonObject)JsonNode.Parse(cached)!;
            response["id"] = "resp_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            response["created_at"] = timeProvider.GetUtcNow().ToUnixTimeSeconds();
            response["previous_response_id"] = previousId;
            response["store"] = stores;
            return JsonSerializer.SerializeToUtf8Bytes(response);
        }

        /// <summary>Keeps a whole, successful response with the input that led to it (waited for, so the next turn finds it).</summary>
        public async Task KeepAsync(ReadOnlyMemory<byte> answer)
        {
            if (!stores || JsonNode.Parse(answer.Span) is not JsonObject response
                || response["id"] is not JsonValue id || id.GetValueKind() != JsonValueKind.String)
            {
                return;
            }
            response["previous_response_id"] = previousId;
            response["store"] = true;
            try
            {
                await store.SaveAsync(owner, new StoredResponse(response, input, previousId));
            }
            catch (Exception exception) when (RedisFailure.IsAnyButCancellation(exception))
            {
                // The answer went out; a response that could not be stored is only not found later.
                Log.ResponseNotStored(logger, exception);
            }
        }
    }

    /// <summary>The input as items: a string is one user message.</summary>
    private static JsonArray Items(JsonNode? input) => input switch
    {
        JsonArray items => (JsonArray)items.DeepClone(),
        JsonValue text => [new JsonObject { ["type"] = "message", ["role"] = "user", ["content"] = text.GetValue<string>() }],
        _ => [],
    };

    /// <summary>A response's output as the input of the next turn: its messages and function calls (reasoning is not carried).</summary>
    private static IEnumerable<JsonNode?> OutputAsInput(JsonObject response) =>
        (response["output"] as JsonArray ?? []).Where(item => item?["type"]?.GetValue<string>() is "message" or "function_call").Select(item => item!.DeepClone());

    private static async Task GetAsync(string id, HttpContext context, ClientIdentity client, ResponseStore store)
    {
        if (await store.GetAsync(ResponseStore.OwnerOf(client), id) is { } stored)
        {
            await TypedResults.Json(stored).ExecuteAsync(context);
            return;
        }
        await NotFound(id).ExecuteAsync(context);
    }

    private static async Task DeleteAsync(string id, HttpContext context, ClientIdentity client, ResponseStore store)
    {
        if (await store.DeleteAsync(ResponseStore.OwnerOf(client), id))
        {
            await TypedResults.Json(new JsonObject { ["id"] = id, ["object"] = "response", ["deleted"] = true }).ExecuteAsync(context);
            return;
        }
        await NotFound(id).ExecuteAsync(context);
    }

    private static OpenAIErrorResult NotFound(string id) =>
        new(StatusCodes.Status404NotFound, $"No response found with id '{id}'.", OpenAIError.InvalidRequest, "response_not_found");
}
