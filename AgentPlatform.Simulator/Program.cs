using AgentPlatform.Simulator;
using AgentPlatform.Simulator.Completions;

var builder = WebApplication.CreateSlimBuilder(args);

builder.AddServiceDefaults();
builder.AddSimulatorServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapChatCompletionsApi();
app.MapAnthropicMessagesApi();
app.MapSimulatorControlApi();

app.Run();
