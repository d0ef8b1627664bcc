using AgentPlatform.Simulator;
using AgentPlatform.Simulator.Completions;
using AgentPlatform.Simulator.Embeddings;

var builder = WebApplication.CreateSlimBuilder(args);

builder.AddServiceDefaults();
builder.AddSimulatorServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapChatCompletionsApi();
app.MapAnthropicMessagesApi();
app.MapResponsesApi();
app.MapEmbeddingsApi();
app.MapSimulatorControlApi();

app.Run();
